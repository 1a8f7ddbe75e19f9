// The cache pool's payoff, measured on real Docker daemons: the same `docker build` of a small multi-layer image
// on a cold data root (what every ephemeral runner starts with: get the base image, run every step) and on a warm
// one (a new daemon on the data root the previous daemon left, as the next Pod on a cache claim gets). The base
// image comes from the run's own dockerd (docker save | load) because no registry is reachable; a real pull is
// slower, so the ratio here understates the gain.
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestEnv } from "../test/env/types.ts";
import { startOwnDockerd, waitForServing } from "../test/helpers/action-dockerd.ts";

const execFileAsync = promisify(execFile);
const ROUNDS = 3;
const LAYERS = 5;

async function docker(host: string, args: string[]): Promise<void> {
  await execFileAsync("docker", [`--host=${host}`, ...args], {
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
    maxBuffer: 16 * 1024 * 1024,
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Seconds for what a job's `docker build` costs: the base image if the daemon lacks it, then the build. */
async function timedBuild(env: TestEnv, host: string, context: string): Promise<number> {
  const started = performance.now();
  const hasBase = await docker(host, ["image", "inspect", env.docker.busyboxImage]).then(
    () => true,
    () => false,
  );
  if (!hasBase) {
    await execFileAsync("sh", ["-c", `docker --host="$FROM" save "$IMAGE" | docker --host="$TO" load -q`], {
      env: { ...process.env, FROM: env.docker.host, TO: host, IMAGE: env.docker.busyboxImage },
    });
  }
  await docker(host, ["build", "--network=none", "-t", "bench-cache:latest", context]);
  return (performance.now() - started) / 1000;
}

export async function benchCache(env: TestEnv): Promise<string> {
  const root = join(env.runDir, `bench-cache-${process.pid}`);
  const context = join(root, "context");
  await mkdir(context, { recursive: true });
  // Each step does real work (random data, a checksum) and leaves a layer, as compile and install steps do.
  const steps = Array.from(
    { length: LAYERS },
    (_, i) =>
      `RUN dd if=/dev/urandom of=/layer${i} bs=1M count=8 2>/dev/null && sha256sum /layer${i} > /layer${i}.sum`,
  );
  await writeFile(join(context, "Dockerfile"), [`FROM ${env.docker.busyboxImage}`, ...steps, ""].join("\n"));

  const cold: number[] = [];
  const warm: number[] = [];
  const dirs: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(root, `round-${round}`);
      dirs.push(dir);
      // Cold: a daemon on an empty data root.
      const first = await startOwnDockerd({ dockerd: env.parts.dockerd, dir });
      try {
        await waitForServing(first, 1);
        cold.push(await timedBuild(env, first.host, context));
      } finally {
        await first.stop();
      }
      // Warm: a new daemon on the data root the first one left (its log is the same file, hence 2 listeners).
      const second = await startOwnDockerd({ dockerd: env.parts.dockerd, dir });
      try {
        await waitForServing(second, 2);
        warm.push(await timedBuild(env, second.host, context));
      } finally {
        await second.stop();
      }
    }
  } finally {
    const mounts = (await readFile("/proc/self/mounts", "utf8"))
      .split("\n")
      .map((line) => line.split(" ")[1] ?? "")
      .filter((point) => point.startsWith(`${root}/`))
      .sort((a, b) => b.length - a.length);
    for (const point of mounts) await execFileAsync("umount", [point]).catch(() => {});
    await rm(root, { recursive: true, force: true }).catch(() => {});
  }
  const coldS = median(cold);
  const warmS = median(warm);
  return `cache: cold_s=${coldS.toFixed(2)} warm_s=${warmS.toFixed(2)} ratio=${(warmS / coldS).toFixed(3)}`;
}
