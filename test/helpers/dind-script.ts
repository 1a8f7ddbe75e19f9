// Runs a runner Pod's dind container for real on this host: the builder's start script, dockerd command line and
// environment, with only the paths moved into a temp dir (socket, data root, exec root, stop file) and the
// daemon kept off the run's shared dockerd (own bridge or none, no iptables). What the Pod would run is what runs.
import { spawn } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { request } from "node:http";
import { dirname, join } from "node:path";
import { expect } from "vitest";
import type { RunnerSet } from "../../src/scaler/config/load.ts";
import { buildRunnerPod } from "../../src/scaler/runner-pod/build-runner-pod.ts";

export interface DindRun {
  socketPath: string;
  stopFile: string;
  logFile: string;
  /** The dind container's environment as the Pod sets it (before paths were moved). */
  podEnv: Record<string, string>;
  /** The script's exit code, once it exits. */
  exited: Promise<number | null>;
  /** Touches the stop file (the runner's exit) and waits up to 20 s for the script to end. */
  stop(): Promise<void>;
}

export interface DindRunOptions {
  set: RunnerSet;
  dir: string;
  /** dockerd to run (its directory goes first on PATH). */
  dockerd: string;
  /** Arguments that move the daemon's state into `dir` and off the shared network (added after the Pod's). */
  daemonArgs: string[];
  /** Environment that moves the Pod's paths into `dir` (added over the Pod's). */
  env?: Record<string, string>;
}

export function dockerApi(socketPath: string, method: string, path: string, body?: unknown) {
  return new Promise<{ status: number; json: unknown; text: string }>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload
      ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
      : {};
    const req = request({ socketPath, method, path, headers }, (res) => {
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
    });
    req.on("error", reject);
    req.end(payload);
  });
}

async function waitForPing(socketPath: string, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await dockerApi(socketPath, "GET", "/_ping").then(
      (answer) => answer.text === "OK",
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) {
      const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-3000) : "(no log)";
      throw new Error(`timed out waiting for dockerd's /_ping; log:\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts the dind container of `set`'s Pod (legacy sidecar mode: it has the stop file) and waits for /_ping. */
export async function startDindScript(options: DindRunOptions): Promise<DindRun> {
  const { dir } = options;
  const socketPath = join(dir, "docker.sock");
  const stopFile = join(dir, "runner-exited");
  const logFile = join(dir, "dind.log");
  const { pod } = buildRunnerPod(
    options.set,
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
  const podEnv = Object.fromEntries((dind.env ?? []).map((e) => [e.name, e.value ?? ""]));
  const out = openSync(logFile, "a");
  const child = spawn(shell!, [dashC!, script!, argv0!, ...args, ...options.daemonArgs], {
    env: {
      ...process.env,
      ...podEnv,
      ...options.env,
      DIND_K8S_STOP_FILE: stopFile,
      // The image's entrypoint isn't on this host: run dockerd (first argument) directly from PATH.
      DIND_K8S_ENTRYPOINT: "env",
      PATH: `${dirname(options.dockerd)}:${process.env.PATH}`,
    },
    stdio: ["ignore", out, out],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await waitForPing(socketPath, 60_000, logFile);
  return {
    socketPath,
    stopFile,
    logFile,
    podEnv,
    exited,
    async stop() {
      if (!existsSync(socketPath)) return;
      await writeFile(stopFile, "");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    },
  };
}
