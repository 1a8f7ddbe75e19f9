// Benchmark of the dind-setup action: how soon after a starting dockerd begins to serve does the step finish,
// next to the hand-rolled `until docker info; do sleep 1; done` loop (interleaved daemon starts in the same
// run), and how long the whole step takes when the daemon is already up.
//
// "Begins to serve" is dockerd's own `API listen on <addr>` log line: dockerd opens its socket ~1 s
// earlier but only accepts requests from this line on (it logs it right before serving), so the line is
// the earliest moment any client could possibly see the daemon as ready.
//
// Runs standalone (`node bench/action.ts`) or from bench/run.ts. Needs root (dockerd), dockerd
// (DIND_K8S_DOCKERD, else on PATH, else /usr/sbin/dockerd), the docker CLI (DIND_K8S_DOCKER, else on PATH)
// and a built dist/action/main.js (`npm run build`).
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { inputVariable, runnerEnvironment } from "../test/helpers/action-runner.ts";

const repoRoot = join(import.meta.dirname, "..");
const actionMain = join(repoRoot, "dist", "action", "main.js");
/** Daemon starts per waiter (the action, the loop). */
const STARTS = 9;
const WARM_RUNS = 7;

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findBinary(name: string, override: string | undefined, fallbacks: string[]): Promise<string> {
  if (override) {
    if (await executable(override)) return override;
    throw new Error(`${override} (from the environment) is not an executable`);
  }
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const candidate of [...dirs.map((dir) => join(dir, name)), ...fallbacks]) {
    if (await executable(candidate)) return candidate;
  }
  throw new Error(`${name} not found on PATH or in ${fallbacks.join(", ") || "the usual places"}`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Resolves with the time (performance.now) the process exited, and its exit code. */
function exited(child: ChildProcess): Promise<{ at: number; code: number | null }> {
  return new Promise((resolveExit, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolveExit({ at: performance.now(), code }));
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface RunningDockerd {
  process: ChildProcess;
  socketPath: string;
  /** performance.now() when dockerd logged that it serves the API. */
  serving: Promise<number>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// If the bench dies halfway, do not leave a dockerd behind.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function startDockerd(dockerd: string, dir: string): RunningDockerd {
  const socketPath = join(dir, "docker.sock");
  const child = spawn(
    dockerd,
    [
      `--host=unix://${socketPath}`,
      `--data-root=${join(dir, "data")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      "--bridge=none",
      "--iptables=false",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  running.add(child);
  const exit = exited(child);
  const log: string[] = [];
  const serving = new Promise<number>((resolveServing, reject) => {
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (log.length < 200) log.push(line);
      if (line.includes("API listen on ")) resolveServing(performance.now());
    });
    void exit.then(({ code }) =>
      reject(new Error(`dockerd exited with ${code} before serving:\n${log.slice(-20).join("\n")}`)),
    );
  });
  serving.catch(() => {});
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const stopped = await Promise.race([exit, new Promise((r) => setTimeout(r, 15_000, undefined))]);
      if (stopped === undefined) child.kill("SIGKILL");
      await exit;
    }
    running.delete(child);
  };
  return { process: child, socketPath, serving, stop };
}

/** Starts `node dist/action/main.js` as a runner would, with its own GITHUB_* files, context and event payload. */
async function startAction(
  dir: string,
  dockerHost: string,
): Promise<ChildProcess & { output: () => string }> {
  const { env } = await runnerEnvironment(dir);
  const child = spawn(process.execPath, [actionMain], {
    cwd: env.GITHUB_WORKSPACE,
    env: {
      ...env,
      [inputVariable("docker-host")]: dockerHost,
      [inputVariable("timeout")]: "60",
      [inputVariable("context")]: "",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return Object.assign(child, { output: () => output });
}

function startLoop(docker: string, dockerHost: string): ChildProcess {
  // The loop people write by hand today, as a step would run it.
  return spawn("sh", ["-c", `until "$DOCKER" info >/dev/null 2>&1; do sleep 1; done`], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER: docker, DOCKER_HOST: dockerHost },
    stdio: "ignore",
  });
}

type Waiter = "action" | "loop";

/**
 * One daemon start with one waiter already polling: ms from dockerd serving to the waiter's exit. The
 * action and the loop take turns on fresh daemons rather than sharing one start, so neither steals CPU
 * from the other at the moment that is measured (two cores).
 */
async function oneStart(
  waiter: Waiter,
  dockerd: string,
  docker: string,
  dir: string,
  headStartMs: number,
): Promise<{ ms: number; daemon: RunningDockerd }> {
  await mkdir(dir, { recursive: true });
  const dockerHost = `unix://${join(dir, "docker.sock")}`;
  const action = waiter === "action" ? await startAction(dir, dockerHost) : undefined;
  const child = action ?? startLoop(docker, dockerHost);
  const childExit = exited(child);
  // The waiter is up and polling before the daemon starts, as in a job whose first step runs while
  // the dind sidecar boots.
  await new Promise((r) => setTimeout(r, headStartMs));
  const daemon = startDockerd(dockerd, dir);
  try {
    const [servedAt, done] = await withTimeout(
      Promise.all([daemon.serving, childExit]),
      90_000,
      "a daemon start",
    );
    if (done.code !== 0) {
      throw new Error(action ? `the action failed:\n${action.output()}` : "the docker info loop failed");
    }
    return { ms: done.at - servedAt, daemon };
  } catch (error) {
    child.kill("SIGKILL");
    await daemon.stop();
    throw error;
  }
}

export async function benchAction(): Promise<string> {
  if (
    !(await executable(process.execPath)) ||
    !(await access(actionMain).then(
      () => true,
      () => false,
    ))
  ) {
    throw new Error(`${actionMain} is missing: run npm run build first`);
  }
  const dockerd = await findBinary("dockerd", process.env.DIND_K8S_DOCKERD, [
    "/usr/sbin/dockerd",
    "/usr/bin/dockerd",
  ]);
  const docker = await findBinary("docker", process.env.DIND_K8S_DOCKER, [
    "/usr/bin/docker",
    "/usr/local/bin/docker",
  ]);
  const root = await mkdtemp(join(tmpdir(), "dind-k8s-bench-action-"));
  try {
    const actionMs: number[] = [];
    const loopMs: number[] = [];
    let warmDaemon: RunningDockerd | undefined;
    // Interleaved, so a change in the machine's load over the run hits both alike. The daemon starts
    // at head starts spread over one second: where a 1 s loop's tries fall relative to the daemon's
    // start decides its latency, and a job step starts at any phase. Both waiters get the same phases.
    for (let i = 0; i < 2 * STARTS; i++) {
      const waiter: Waiter = i % 2 === 0 ? "action" : "loop";
      const headStartMs = 100 + Math.floor(i / 2) * Math.round(1000 / STARTS);
      const result = await oneStart(waiter, dockerd, docker, join(root, `start-${i}`), headStartMs);
      (waiter === "action" ? actionMs : loopMs).push(result.ms);
      if (i === 2 * STARTS - 1) warmDaemon = result.daemon;
      else await result.daemon.stop();
    }

    // The whole step, spawn to exit, with the daemon already up (as on a GitHub-hosted runner).
    const stepMs: number[] = [];
    try {
      if (!warmDaemon) throw new Error("no daemon left running for the warm runs");
      for (let i = 0; i < WARM_RUNS; i++) {
        const dir = join(root, `warm-${i}`);
        await mkdir(dir, { recursive: true });
        const started = performance.now();
        const action = await startAction(dir, `unix://${warmDaemon.socketPath}`);
        const done = await withTimeout(exited(action), 30_000, "the action on a running daemon");
        if (done.code !== 0) throw new Error(`the action failed on a running daemon:\n${action.output()}`);
        stepMs.push(done.at - started);
      }
    } finally {
      await warmDaemon?.stop();
    }

    // The samples behind the medians, for judging the spread (stderr, so the one result line stays clean).
    const samples = (values: number[]) => values.map((value) => value.toFixed(0)).join(" ");
    process.stderr.write(
      `action samples (ms): ready ${samples(actionMs)} | loop ${samples(loopMs)} | step ${samples(stepMs)}\n`,
    );
    const ready = median(actionMs);
    const loop = median(loopMs);
    return `action-ready: median_ms=${ready.toFixed(1)} loop_median_ms=${loop.toFixed(1)} ratio=${(ready / loop).toFixed(3)} step_ms=${median(stepMs).toFixed(1)}`;
  } finally {
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${await benchAction()}\n`);
}
