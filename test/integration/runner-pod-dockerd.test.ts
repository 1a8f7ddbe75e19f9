// The dind container's start script and the dockerd command line the builder produces (MTU auto, registry
// mirrors, socket group, the legacy stop file), run for real on this host: only the paths are moved to a temp
// dir, and the daemon gets a private bridge and no iptables so the run's shared dockerd is left alone.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseConfig } from "../../src/scaler/config/load.ts";
import { type DindRun, dockerApi, startDindScript } from "../helpers/dind-script.ts";

const execFileAsync = promisify(execFile);
const env = inject("testenv");

const MIRROR = "https://mirror.gcr.io";
const BRIDGE = "dk8s-mtu";
const BRIDGE_CIDR = "10.231.0.1/24";
const USER_SUBNET = "10.232.0.0/24";

const config = parseConfig(
  `github: { org: my-org, auth: { tokenFile: /secrets/token }, webhookSecretFile: /secrets/webhook, hookId: 1 }
kubernetes: { namespace: runners }
runnerSets:
  - name: mtu
    labels: [dind-k8s]
    maxRunners: 1
    minIdle: 0
    dind: { registryMirrors: [${MIRROR}] }
`,
  "inline.yaml",
);

describe("the dind start script and dockerd command line on a real dockerd", () => {
  let dir: string;
  let dind: DindRun | undefined;
  let socketPath: string;
  let commandLine: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dk8s-dockerd-"));
    await execFileAsync("ip", ["link", "del", BRIDGE]).catch(() => undefined);
    await execFileAsync("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    await execFileAsync("ip", ["addr", "add", BRIDGE_CIDR, "dev", BRIDGE]);
    await execFileAsync("ip", ["link", "set", BRIDGE, "up"]);
    dind = await startDindScript({
      set: config.runnerSets[0]!,
      dir,
      dockerd: env.parts["dockerd-network-opt"],
      daemonArgs: [
        `--data-root=${join(dir, "data")}`,
        `--exec-root=${join(dir, "exec")}`,
        `--pidfile=${join(dir, "docker.pid")}`,
        `--bridge=${BRIDGE}`,
        "--iptables=false",
        "--ip6tables=false",
        "--userland-proxy=false",
      ],
    });
    socketPath = dind.socketPath;
    // The legacy sidecar mode: the same dockerd arguments, plus the stop file the runner touches on exit.
    expect(dind.podEnv.DIND_K8S_MTU).toBe("auto");
    expect(dind.podEnv.DIND_K8S_STOP_FILE).toBe("/dind-k8s/lifecycle/runner-exited");
    commandLine =
      (await readFile(dind.logFile, "utf8")).split("\n").find((l) => l.startsWith("dind-k8s: starting:")) ??
      "";
  });

  afterAll(async () => {
    await dind?.stop();
    await execFileAsync("ip", ["link", "del", BRIDGE]).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reads eth0's MTU and passes it as --mtu and as the default network option", async () => {
    const hostMtu = (await readFile("/sys/class/net/eth0/mtu", "utf8")).trim();
    expect(hostMtu).toMatch(/^\d+$/);
    expect(commandLine).toContain(`--mtu=${hostMtu}`);
    expect(commandLine).toContain(`--default-network-opt=bridge=com.docker.network.driver.mtu=${hostMtu}`);
    expect(commandLine).toContain(`--registry-mirror=${MIRROR}`);
    expect(commandLine).toContain("--group=123");
  });

  it("answers /_ping and hands its socket to the runner's docker group (123)", async () => {
    expect((await dockerApi(socketPath, "GET", "/_ping")).text).toBe("OK");
    expect((await stat(socketPath)).gid).toBe(123);
  });

  it("has the registry mirror", async () => {
    const info = (await dockerApi(socketPath, "GET", "/info")).json as {
      RegistryConfig?: { Mirrors?: string[] };
    };
    expect(info.RegistryConfig?.Mirrors).toEqual([`${MIRROR}/`]);
  });

  it("gives the default bridge network and a user-defined network the Pod's MTU", async () => {
    const hostMtu = (await readFile("/sys/class/net/eth0/mtu", "utf8")).trim();
    const bridge = (await dockerApi(socketPath, "GET", "/networks/bridge")).json as {
      Options: Record<string, string>;
    };
    expect(bridge.Options["com.docker.network.driver.mtu"]).toBe(hostMtu);

    // What `docker compose up` does: a user-defined bridge network without any MTU option of its own.
    const created = await dockerApi(socketPath, "POST", "/networks/create", {
      Name: "dk8s-compose-default",
      Driver: "bridge",
      IPAM: { Config: [{ Subnet: USER_SUBNET }] },
    });
    expect(created.status).toBe(201);
    const id = (created.json as { Id: string }).Id;
    try {
      const network = (await dockerApi(socketPath, "GET", `/networks/${id}`)).json as {
        Options: Record<string, string>;
      };
      expect(network.Options["com.docker.network.driver.mtu"]).toBe(hostMtu);
      // And the kernel's bridge really has it.
      expect((await readFile(`/sys/class/net/br-${id.slice(0, 12)}/mtu`, "utf8")).trim()).toBe(hostMtu);
    } finally {
      await dockerApi(socketPath, "DELETE", `/networks/${id}`);
    }
  });

  it("stops dockerd and exits 0 once the runner touches the stop file (legacy sidecar mode)", async () => {
    await writeFile(dind!.stopFile, "");
    const code = await Promise.race([
      dind!.exited,
      new Promise((r) => setTimeout(() => r("timeout"), 30_000)),
    ]);
    expect(code).toBe(0);
    expect(existsSync(socketPath)).toBe(false);
  });
});

describe("loopDisk: the start script mounts a sparse ext4 image as the data root before dockerd starts", () => {
  let dir: string;
  let dind: DindRun | undefined;
  let socketPath: string;
  let dataRoot: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dk8s-loop-"));
    dataRoot = join(dir, "var-lib-docker");
    const loopConfig = parseConfig(
      `github: { org: my-org, auth: { tokenFile: /t }, webhookSecretFile: /w, hookId: 1 }
kubernetes: { namespace: runners }
runnerSets:
  - { name: loop, labels: [x], maxRunners: 1, minIdle: 0, storage: { type: loopDisk, size: 1Gi } }
`,
      "inline.yaml",
    );
    dind = await startDindScript({
      set: loopConfig.runnerSets[0]!,
      dir,
      dockerd: env.parts["dockerd-network-opt"],
      daemonArgs: [
        `--data-root=${dataRoot}`,
        `--exec-root=${join(dir, "exec")}`,
        `--pidfile=${join(dir, "docker.pid")}`,
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
      ],
      // Paths moved to the temp dir; sizes and the script are the Pod's.
      env: { DIND_K8S_LOOP_IMAGE: join(dir, "docker.img"), DIND_K8S_DATA_ROOT: dataRoot },
    });
    socketPath = dind.socketPath;
    expect(dind.podEnv).toMatchObject({
      DIND_K8S_LOOP_IMAGE: "/dind-k8s/loop/docker.img",
      DIND_K8S_LOOP_BYTES: String(2 ** 30),
      DIND_K8S_DATA_ROOT: "/var/lib/docker",
    });
  });

  afterAll(async () => {
    await dind?.stop();
    // A loop mount is detached by umount (autoclear), whatever the daemon left behind.
    if (dataRoot) await execFileAsync("umount", [dataRoot]).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the data root is an ext4 loop mount of a sparse image of the configured size", async () => {
    const { stdout } = await execFileAsync("findmnt", ["-n", "-o", "FSTYPE,SOURCE", dataRoot]);
    const [fstype, source] = stdout.trim().split(/\s+/);
    expect(fstype).toBe("ext4");
    expect(source).toMatch(/^\/dev\/loop\d+$/);
    const image = await stat(join(dir, "docker.img"));
    expect(image.size).toBe(2 ** 30);
    // Sparse: far fewer blocks in use than the size.
    expect(image.blocks * 512).toBeLessThan(image.size / 4);
  });

  it("dockerd runs overlay2 on it", async () => {
    const info = (await dockerApi(socketPath, "GET", "/info")).json as {
      Driver: string;
      DockerRootDir: string;
      DriverStatus: [string, string][];
    };
    expect(info.DockerRootDir).toBe(dataRoot);
    expect(info.Driver).toBe("overlay2");
    expect(info.DriverStatus).toContainEqual(["Backing Filesystem", "extfs"]);
  });

  it("stops when the runner is done, leaving the image for a restart to mount again", async () => {
    await writeFile(dind!.stopFile, "");
    const code = await Promise.race([
      dind!.exited,
      new Promise((r) => setTimeout(() => r("timeout"), 30_000)),
    ]);
    expect(code).toBe(0);
    expect(existsSync(join(dir, "docker.img"))).toBe(true);
  });
});
