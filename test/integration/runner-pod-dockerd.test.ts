// The dind container's start script and the dockerd command line the builder produces (MTU auto, registry
// mirrors, socket group, the legacy stop file), run for real on this host: only the paths are moved to a temp
// dir, and the daemon gets a private bridge and no iptables so the run's shared dockerd is left alone.
import { execFile, spawn } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseConfig } from "../../src/scaler/config/load.ts";
import { buildRunnerPod } from "../../src/scaler/runner-pod/build-runner-pod.ts";

const execFileAsync = promisify(execFile);
const env = inject("testenv");

const MIRROR = "https://mirror.gcr.io";
const BRIDGE = "dk8s-mtu";
const BRIDGE_CIDR = "10.231.0.1/24";
const USER_SUBNET = "10.232.0.0/24";

function dockerApi(socketPath: string, method: string, path: string, body?: unknown) {
  return new Promise<{ status: number; json: unknown; text: string }>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: payload
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, log: string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const tail = existsSync(log) ? readFileSync(log, "utf8").slice(-3000) : "(no log)";
      throw new Error(`timed out waiting for ${what}; log:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const config = parseConfig(
  `github: { org: my-org, auth: { tokenFile: /secrets/token }, webhookSecretFile: /secrets/webhook }
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
  let socketPath: string;
  let stopFile: string;
  let logFile: string;
  let exited: Promise<number | null>;
  let commandLine: string;

  beforeAll(async () => {
    const dockerd = env.parts["dockerd-network-opt"];
    dir = await mkdtemp(join(tmpdir(), "dk8s-dockerd-"));
    socketPath = join(dir, "docker.sock");
    stopFile = join(dir, "runner-exited");
    logFile = join(dir, "dind.log");

    // The legacy sidecar mode: the same dockerd arguments, plus the stop file the runner touches on exit.
    const { pod } = buildRunnerPod(
      config.runnerSets[0]!,
      { kind: "job", jobId: 1, runAttempt: 1 },
      {
        namespace: "runners",
        sidecars: "legacy",
      },
    );
    const dind = pod.spec!.containers.find((c) => c.name === "dind")!;
    const [shell, dashC, script, argv0] = dind.command!;
    expect([shell, dashC, argv0]).toEqual(["/bin/sh", "-c", "dind"]);
    const args = dind.args!.map((arg) =>
      arg === "--host=unix:///var/run/docker.sock" ? `--host=unix://${socketPath}` : arg,
    );
    expect(args).toContain(`--host=unix://${socketPath}`);
    const remapped = [
      ...args,
      `--data-root=${join(dir, "data")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      `--bridge=${BRIDGE}`,
      "--iptables=false",
      "--ip6tables=false",
      "--userland-proxy=false",
    ];
    const podEnv = Object.fromEntries((dind.env ?? []).map((e) => [e.name, e.value ?? ""]));
    expect(podEnv.DIND_K8S_MTU).toBe("auto");
    expect(podEnv.DIND_K8S_STOP_FILE).toBe("/dind-k8s/lifecycle/runner-exited");

    await execFileAsync("ip", ["link", "del", BRIDGE]).catch(() => undefined);
    await execFileAsync("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    await execFileAsync("ip", ["addr", "add", BRIDGE_CIDR, "dev", BRIDGE]);
    await execFileAsync("ip", ["link", "set", BRIDGE, "up"]);

    const out = openSync(logFile, "a");
    const child = spawn(shell!, [dashC!, script!, argv0!, ...remapped], {
      env: {
        ...process.env,
        ...podEnv,
        DIND_K8S_STOP_FILE: stopFile,
        // The image's entrypoint isn't on this host: run dockerd (first argument) directly from PATH.
        DIND_K8S_ENTRYPOINT: "env",
        PATH: `${dirname(dockerd)}:${process.env.PATH}`,
      },
      stdio: ["ignore", out, out],
    });
    exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor(
      "dockerd's /_ping",
      async () => ((await dockerApi(socketPath, "GET", "/_ping")).text === "OK" ? true : undefined),
      60_000,
      logFile,
    );
    commandLine =
      (await readFile(logFile, "utf8")).split("\n").find((l) => l.startsWith("dind-k8s: starting:")) ?? "";
  });

  afterAll(async () => {
    if (socketPath && existsSync(socketPath)) {
      await writeFile(stopFile, "");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
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
    await writeFile(stopFile, "");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 30_000))]);
    expect(code).toBe(0);
    expect(existsSync(socketPath)).toBe(false);
  });
});

describe("loopDisk: the start script mounts a sparse ext4 image as the data root before dockerd starts", () => {
  let dir: string;
  let socketPath: string;
  let dataRoot: string;
  let stopFile: string;
  let exited: Promise<number | null>;

  beforeAll(async () => {
    const dockerd = env.parts["dockerd-network-opt"];
    dir = await mkdtemp(join(tmpdir(), "dk8s-loop-"));
    socketPath = join(dir, "docker.sock");
    dataRoot = join(dir, "var-lib-docker");
    stopFile = join(dir, "runner-exited");
    const logFile = join(dir, "dind.log");
    const loopConfig = parseConfig(
      `github: { org: my-org, auth: { tokenFile: /t }, webhookSecretFile: /w }
kubernetes: { namespace: runners }
runnerSets:
  - { name: loop, labels: [x], maxRunners: 1, minIdle: 0, storage: { type: loopDisk, size: 1Gi } }
`,
      "inline.yaml",
    );
    const { pod } = buildRunnerPod(
      loopConfig.runnerSets[0]!,
      { kind: "job", jobId: 2, runAttempt: 1 },
      {
        namespace: "runners",
        sidecars: "legacy",
      },
    );
    const dind = pod.spec!.containers.find((c) => c.name === "dind")!;
    const podEnv = Object.fromEntries((dind.env ?? []).map((e) => [e.name, e.value ?? ""]));
    expect(podEnv).toMatchObject({
      DIND_K8S_LOOP_IMAGE: "/dind-k8s/loop/docker.img",
      DIND_K8S_LOOP_BYTES: String(2 ** 30),
      DIND_K8S_DATA_ROOT: "/var/lib/docker",
    });
    const [shell, dashC, script, argv0] = dind.command!;
    const args = [
      ...dind.args!.map((arg) =>
        arg === "--host=unix:///var/run/docker.sock" ? `--host=unix://${socketPath}` : arg,
      ),
      `--data-root=${dataRoot}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
    ];
    const child = spawn(shell!, [dashC!, script!, argv0!, ...args], {
      env: {
        ...process.env,
        ...podEnv,
        // Paths moved to the temp dir; sizes and the script are the Pod's.
        DIND_K8S_LOOP_IMAGE: join(dir, "docker.img"),
        DIND_K8S_DATA_ROOT: dataRoot,
        DIND_K8S_STOP_FILE: stopFile,
        DIND_K8S_ENTRYPOINT: "env",
        PATH: `${dirname(dockerd)}:${process.env.PATH}`,
      },
      stdio: ["ignore", openSync(logFile, "a"), openSync(logFile, "a")],
    });
    exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor(
      "dockerd's /_ping",
      async () => ((await dockerApi(socketPath, "GET", "/_ping")).text === "OK" ? true : undefined),
      60_000,
      logFile,
    );
  });

  afterAll(async () => {
    if (socketPath && existsSync(socketPath)) {
      await writeFile(stopFile, "");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
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
    await writeFile(stopFile, "");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 30_000))]);
    expect(code).toBe(0);
    expect(existsSync(join(dir, "docker.img"))).toBe(true);
  });
});
