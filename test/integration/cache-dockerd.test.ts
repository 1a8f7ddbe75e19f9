// The premise of the cache pool and the dind start script's upkeep of a cache volume, on real Docker daemons of
// this test's own (own data roots and sockets, no bridge, no iptables), next to the run's shared one.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import { DIND_START_SCRIPT } from "../../src/scaler/runner-pod/scripts.ts";
import { startOwnDockerd, waitForServing } from "../helpers/action-dockerd.ts";

const execFileAsync = promisify(execFile);
const env = inject("testenv");
const dirs: string[] = [];
let next = 0;

afterAll(async () => {
  // A daemon that fails to start leaves its data root bind-mounted on itself (on this host; in a Pod the mount
  // namespace goes with the container): unmount what is left under our dirs, deepest first.
  const mounts = (await readFile("/proc/self/mounts", "utf8"))
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((point) => dirs.some((dir) => point.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await execFileAsync("umount", [point]).catch(() => {});
  for (const dir of dirs) await rm(dir, { recursive: true, force: true }).catch(() => {});
});

function freshDir(): string {
  const dir = join(env.runDir, `cache-dockerd-${process.pid}-${next++}`);
  dirs.push(dir);
  return dir;
}

async function docker(host: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("docker", [`--host=${host}`, ...args], {
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim();
}

/** The run's busybox image, copied into another daemon (no registry is reachable). */
async function loadBusybox(host: string): Promise<void> {
  await execFileAsync("sh", ["-c", `docker --host="$FROM" save "$IMAGE" | docker --host="$TO" load -q`], {
    env: { ...process.env, FROM: env.docker.host, TO: host, IMAGE: env.docker.busyboxImage },
  });
}

/** A small multi-layer image built on busybox (each RUN writes a few MB). */
async function buildLayers(host: string, dir: string, tag: string): Promise<string> {
  const context = join(dir, "context");
  await execFileAsync("mkdir", ["-p", context]);
  await writeFile(
    join(context, "Dockerfile"),
    [
      `FROM ${env.docker.busyboxImage}`,
      "RUN dd if=/dev/urandom of=/layer1 bs=1M count=4 2>/dev/null",
      "RUN dd if=/dev/urandom of=/layer2 bs=1M count=4 2>/dev/null",
      "",
    ].join("\n"),
  );
  return docker(host, ["build", "--network=none", "-t", tag, context]);
}

const dataBytes = async (dataRoot: string) =>
  Number((await execFileAsync("du", ["-skx", dataRoot])).stdout.split("\t")[0]) * 1024;

describe("a data root outlives its daemon (the premise)", () => {
  it("a second daemon on the same data root finds the images and the build cache of the first", async () => {
    const dir = freshDir();
    const first = await startOwnDockerd({ dockerd: env.parts.dockerd, dir });
    try {
      await waitForServing(first, 1);
      await loadBusybox(first.host);
      await buildLayers(first.host, dir, "cached:1");
    } finally {
      await first.stop();
    }
    const second = await startOwnDockerd({ dockerd: env.parts.dockerd, dir });
    try {
      // The same log file: the first daemon's "API listen on" is already in it.
      await waitForServing(second, 2);
      expect(await docker(second.host, ["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])).toContain(
        "cached:1",
      );
      // Every step of the same build comes from the cache the first daemon left.
      const output = await buildLayers(second.host, dir, "cached:2");
      expect(output.match(/Using cache/g)).toHaveLength(2);
    } finally {
      await second.stop();
    }
  });
});

interface ScriptRun {
  host: string;
  stderr(): string;
  /** SIGTERM, as the kubelet stops the dind sidecar; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** The dind start script as the Pod runs it, on this host: the image's entrypoint is `env` (dockerd on PATH). */
async function startScript(dir: string, extraEnv: Record<string, string>): Promise<ScriptRun> {
  const socket = join(dir, "docker.sock");
  const child = spawn(
    "/bin/sh",
    [
      "-c",
      DIND_START_SCRIPT,
      "dind",
      "dockerd",
      `--host=unix://${socket}`,
      `--data-root=${join(dir, "data")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      "--bridge=none",
      "--iptables=false",
    ],
    {
      env: {
        PATH: `${dirname(env.parts.dockerd)}:${process.env.PATH}`,
        DIND_K8S_ENTRYPOINT: "env",
        DIND_K8S_CACHE_VOLUME: "1",
        DIND_K8S_DATA_ROOT: join(dir, "data"),
        DIND_K8S_CACHE_SOCKET: join(dir, "maintenance.sock"),
        DIND_K8S_TERMINATION_LOG: join(dir, "termination-log"),
        ...extraEnv,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const host = `unix://${socket}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the start script exited ${child.exitCode}:\n${stderr}`);
    const up = await docker(host, ["version", "--format", "{{.Server.Version}}"]).catch(() => "");
    if (up) break;
    if (Date.now() > deadline) throw new Error(`the daemon did not answer within 60 s:\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    host,
    stderr: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** A data root left by an earlier daemon: the busybox image and a built image on it. */
async function usedDataRoot(): Promise<{ dir: string; bytes: number }> {
  const dir = freshDir();
  const daemon = await startOwnDockerd({ dockerd: env.parts.dockerd, dir });
  try {
    await waitForServing(daemon, 1);
    await loadBusybox(daemon.host);
    await buildLayers(daemon.host, dir, "left:1");
  } finally {
    await daemon.stop();
  }
  return { dir, bytes: await dataBytes(join(dir, "data")) };
}

describe("the dind start script on a cache volume", () => {
  it("below the watermark: starts at once on the data as it is, and reports size and a clean stop", async () => {
    const { dir, bytes } = await usedDataRoot();
    const run = await startScript(dir, { DIND_K8S_CACHE_PRUNE_ABOVE: String(bytes * 10) });
    expect(await docker(run.host, ["image", "ls", "--format", "{{.Repository}}"])).toContain("left");
    expect(run.stderr()).not.toContain("checking");
    expect(await run.stop()).toBe(0);
    const report = JSON.parse(await readFile(join(dir, "termination-log"), "utf8"));
    expect(report).toEqual({ dataBytes: expect.any(Number), clean: true });
    expect(report.dataBytes).toBeGreaterThan(8 * 1024 * 1024);
  });

  it("above the watermark: prunes before the daemon the runner uses answers", async () => {
    const { dir, bytes } = await usedDataRoot();
    // The images are minutes old: the first stage (unused for 24 h) keeps them, the second removes them.
    const run = await startScript(dir, { DIND_K8S_CACHE_PRUNE_ABOVE: String(Math.floor(bytes / 2)) });
    // The first answer of the real socket already shows the pruned state: the runner never sees the old one.
    expect(await docker(run.host, ["image", "ls", "-q"])).toBe("");
    expect(run.stderr()).toContain(`cache volume: ${bytes} bytes; checking it and pruning`);
    expect(run.stderr()).toContain("pruning everything unused");
    expect(await run.stop()).toBe(0);
    const report = JSON.parse(await readFile(join(dir, "termination-log"), "utf8"));
    expect(report.clean).toBe(true);
    expect(report.dataBytes).toBeLessThan(Math.floor(bytes / 2));
  });

  it("after an unclean end: a data root the daemon can't start on is emptied, and the daemon starts", async () => {
    const { dir } = await usedDataRoot();
    // What a write cut short leaves: dockerd refuses to start on it ("Couldn't create reference store").
    const driver = (await execFileAsync("ls", [join(dir, "data", "image")])).stdout.trim().split("\n")[0]!;
    await writeFile(join(dir, "data", "image", driver, "repositories.json"), "{trunc");
    const run = await startScript(dir, { DIND_K8S_CACHE_CHECK: "1", DIND_K8S_CACHE_PRUNE_ABOVE: "0" });
    expect(run.stderr()).toContain(
      "could not start, list its images or remove what a job left on the cache volume: emptying it",
    );
    expect(await docker(run.host, ["image", "ls", "-q"])).toBe("");
    // And it is a working daemon: the cache fills again.
    await loadBusybox(run.host);
    expect(await run.stop()).toBe(0);
  });

  it("after an unclean end: a sound data root passes the check and keeps its images", async () => {
    const { dir } = await usedDataRoot();
    const run = await startScript(dir, { DIND_K8S_CACHE_CHECK: "1", DIND_K8S_CACHE_PRUNE_ABOVE: "0" });
    expect(run.stderr()).toContain("checking it");
    expect(run.stderr()).not.toContain("emptying");
    expect(await docker(run.host, ["image", "ls", "--format", "{{.Repository}}"])).toContain("left");
    expect(await run.stop()).toBe(0);
  });
});

describe("what a job leaves on a cache volume: images and build cache, never running state", () => {
  const BRIDGE = `dk8s-left${process.pid % 1000}`;
  afterAll(async () => {
    // The user-defined network's bridge lives in this host's namespace (in a Pod, in dind's, gone with it).
    await execFileAsync("ip", ["link", "delete", BRIDGE]).catch(() => {});
  });

  /** Job A on a fresh claim: an image it built, and a restarting container on a named volume and a network. */
  async function jobA(dir: string): Promise<void> {
    const a = await startScript(dir, { DIND_K8S_CACHE_PRUNE_ABOVE: String(10 * 2 ** 30) });
    try {
      await loadBusybox(a.host);
      await buildLayers(a.host, dir, "built-by-a:1");
      await docker(a.host, ["volume", "create", "left-volume"]);
      await docker(a.host, [
        "network",
        "create",
        "--driver=bridge",
        `--opt=com.docker.network.bridge.name=${BRIDGE}`,
        "--subnet=10.239.77.0/24",
        "left-network",
      ]);
      // --network none: this test's daemons have no default bridge; the network is A's all the same.
      await docker(a.host, [
        "run",
        "-d",
        "--name=left-behind",
        "--restart=always",
        "--network=none",
        "-v",
        "left-volume:/data",
        // Each start of the container leaves a line here, outside the data root.
        "-v",
        `${join(dir, "starts")}:/starts`,
        env.docker.busyboxImage,
        "sh",
        "-c",
        'trap "exit 0" TERM; date >> /starts/log; while :; do sleep 1; done',
      ]);
      expect(await docker(a.host, ["ps", "-q", "--filter", "name=left-behind"])).not.toBe("");
    } finally {
      expect(await a.stop()).toBe(0);
    }
  }

  it("job B's daemon on the same data root starts with none of A's containers, volumes, networks, with A's images", async () => {
    const dir = freshDir();
    await jobA(dir);

    // The premise: a plain daemon on that data root brings A's container back up, on its volume and network.
    const plain = await startOwnDockerd({ dockerd: env.parts.dockerd, dir });
    try {
      // Its own log file: A ran through the start script, whose output went elsewhere.
      await waitForServing(plain, 1);
      await eventuallyRunning(plain.host);
      expect(await starts(dir)).toBe(2);
      expect(await docker(plain.host, ["volume", "ls", "-q"])).toContain("left-volume");
      expect(await docker(plain.host, ["network", "ls", "--format", "{{.Name}}"])).toContain("left-network");
    } finally {
      await plain.stop();
    }

    const b = await startScript(dir, { DIND_K8S_CACHE_PRUNE_ABOVE: String(10 * 2 ** 30) });
    try {
      // The first answer on the real socket (what the runner sees) already has none of it.
      expect(await docker(b.host, ["ps", "-aq"])).toBe("");
      expect(await docker(b.host, ["volume", "ls", "-q"])).toBe("");
      expect((await docker(b.host, ["network", "ls", "--format", "{{.Name}}"])).split("\n").sort()).toEqual([
        "host",
        "none",
      ]);
      // Nor did the container run again on the way, not even on the maintenance daemon.
      expect(b.stderr()).toContain("removing the containers and volumes a job left");
      expect(await starts(dir)).toBe(2);
      const images = await docker(b.host, ["image", "ls", "--format", "{{.Repository}}"]);
      expect(images).toContain("built-by-a");
      expect(images).toContain(env.docker.busyboxImage.split(":")[0]);
      // And the build cache: B's build of the same Dockerfile takes every step from it.
      expect((await buildLayers(b.host, dir, "built-by-b:1")).match(/Using cache/g)).toHaveLength(2);
    } finally {
      expect(await b.stop()).toBe(0);
    }
  }, 180_000);

  it("a claim last used for another repository starts empty (DIND_K8S_CACHE_WIPE)", async () => {
    const dir = freshDir();
    await jobA(dir);
    const y = await startScript(dir, {
      DIND_K8S_CACHE_PRUNE_ABOVE: String(10 * 2 ** 30),
      DIND_K8S_CACHE_WIPE: "1",
    });
    try {
      expect(y.stderr()).toContain("last used for another repository; emptying it");
      expect(await docker(y.host, ["image", "ls", "-q"])).toBe("");
      expect(await docker(y.host, ["ps", "-aq"])).toBe("");
      expect(await docker(y.host, ["volume", "ls", "-q"])).toBe("");
    } finally {
      expect(await y.stop()).toBe(0);
    }
  }, 120_000);
});

const starts = async (dir: string) =>
  (await readFile(join(dir, "starts", "log"), "utf8")).split("\n").filter(Boolean).length;

async function eventuallyRunning(host: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await docker(host, ["ps", "-q", "--filter", "name=left-behind"]))) {
    if (Date.now() > deadline)
      throw new Error("A's --restart=always container did not come back on a plain daemon");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
