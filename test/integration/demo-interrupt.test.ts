// `npm run demo` cut short still cleans up: its environment's daemons stopped, its temp dirs (the demo's and the
// test environment's, both under the TMPDIR given here) removed — for Ctrl-C in the middle of the run and for a
// reader that goes away (`npm run demo | head`).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
let scratch: string | undefined;
let demo: ChildProcess | undefined;

afterEach(async () => {
  if (demo && demo.exitCode === null) demo.kill("SIGKILL");
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Starts the demo with its temp files under a directory of its own; resolves its output so far on demand. */
async function startDemo(): Promise<{ child: ChildProcess; output: () => string; dir: string }> {
  scratch = await mkdtemp(join(tmpdir(), "demo-interrupt-"));
  let text = "";
  const child = spawn(process.execPath, [join(root, "scripts", "demo.ts")], {
    cwd: root,
    env: { ...process.env, TMPDIR: scratch },
    stdio: ["ignore", "pipe", "pipe"],
  });
  demo = child;
  child.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { child, output: () => text, dir: scratch };
}

/** What the demo and its environment made in the TMPDIR (containerd may drop a stack dump there as it stops). */
async function ours(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith("dind-k8s-"));
}

async function until(what: string, check: () => boolean, ms: number, output: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; demo output:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("the demo, cut short", () => {
  it("Ctrl-C mid-run: exits 130 and leaves no directory behind", async () => {
    const { child, output, dir } = await startDemo();
    // Mid-run: the job's Pod exists and waits for its release.
    await until("the gated Pod in the timeline", () => output().includes("SchedulingGated"), 90_000, output);
    expect((await ours(dir)).some((name) => name.startsWith("dind-k8s-testenv-"))).toBe(true);
    child.kill("SIGINT");
    expect(await exitOf(child)).toBe(130);
    expect(await ours(dir)).toEqual([]);
  }, 150_000);

  it("a reader that goes away: exits 0 and leaves no directory behind", async () => {
    const { child, output, dir } = await startDemo();
    await until("the first timeline line", () => /\d+\.\d{3} s {2}/.test(output()), 90_000, output);
    // What `| head` does once it has its lines: the demo's next write gets EPIPE.
    child.stdout?.destroy();
    expect(await exitOf(child)).toBe(0);
    expect(await ours(dir)).toEqual([]);
  }, 150_000);
});
