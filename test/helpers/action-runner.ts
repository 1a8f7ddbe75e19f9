// Runs the bundled action the way the GitHub Actions runner does: `node dist/action/<step>.js` with INPUT_*
// variables (defaults from action.yml filled in), the GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE /
// GITHUB_STEP_SUMMARY files, and for the post step STATE_* variables from what main saved.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";

export const repoRoot = join(import.meta.dirname, "..", "..");

interface ActionYaml {
  inputs: Record<string, { default?: string }>;
  runs: { using: string; main: string; post: string };
}

export async function readActionYaml(): Promise<ActionYaml> {
  return parse(await readFile(join(repoRoot, "action.yml"), "utf8")) as ActionYaml;
}

/** Parses the runner's `name<<delimiter … delimiter` file-command format. */
export function parseFileCommands(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? "");
    if (!match) continue;
    const [, name, delimiter] = match;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? "");
    if (i >= lines.length) throw new Error(`unterminated value for ${name}`);
    result[name as string] = value.join("\n");
  }
  return result;
}

export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, as the runner would see the step take. */
  durationMs: number;
  /** Wall-clock time (Date.now()) the process exited, to compare with daemon log timestamps. */
  endedAt: number;
  exportedEnv: Record<string, string>;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  /** stdout + stderr + every file the step wrote: what could end up in a log or an artifact. */
  everything: string;
}

export interface StepOptions {
  /** A dir of its own for this step's files. */
  workDir: string;
  inputs?: Record<string, string>;
  /** The job's environment besides PATH and HOME (e.g. DOCKER_HOST for ARC runners). */
  env?: Record<string, string>;
  /** For the post step: what main saved. */
  state?: Record<string, string>;
  /** Called right after the process started (used to start a daemon late). */
  onSpawn?: () => void;
}

export async function runStep(step: "main" | "post", options: StepOptions): Promise<StepResult> {
  const action = await readActionYaml();
  const dir = await mkdtemp(join(options.workDir, `${step}-`));
  const files = {
    GITHUB_ENV: join(dir, "env"),
    GITHUB_OUTPUT: join(dir, "output"),
    GITHUB_STATE: join(dir, "state"),
    GITHUB_STEP_SUMMARY: join(dir, "summary"),
  };
  for (const path of Object.values(files)) await writeFile(path, "");
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) {
    inputs[`INPUT_${name.replaceAll(" ", "_").toUpperCase()}`] = spec.default ?? "";
  }
  for (const [name, value] of Object.entries(options.inputs ?? {})) {
    inputs[`INPUT_${name.replaceAll(" ", "_").toUpperCase()}`] = value;
  }
  const stateEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.state ?? {})) stateEnv[`STATE_${name}`] = value;

  const script = join(repoRoot, step === "main" ? action.runs.main : action.runs.post);
  const started = performance.now();
  const child = spawn(process.execPath, [script], {
    cwd: dir,
    // Only what a runner gives a step, so nothing from the test process leaks in.
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? dir,
      RUNNER_TEMP: dir,
      GITHUB_ACTIONS: "true",
      ...files,
      ...inputs,
      ...stateEnv,
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.onSpawn?.();
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (exitCode) => resolve(exitCode));
  });
  const durationMs = performance.now() - started;
  const endedAt = Date.now();
  const [envText, outputText, stateText, summary] = await Promise.all(
    [files.GITHUB_ENV, files.GITHUB_OUTPUT, files.GITHUB_STATE, files.GITHUB_STEP_SUMMARY].map((path) =>
      readFile(path, "utf8"),
    ),
  );
  return {
    code,
    stdout,
    stderr,
    durationMs,
    endedAt,
    exportedEnv: parseFileCommands(envText ?? ""),
    outputs: parseFileCommands(outputText ?? ""),
    state: parseFileCommands(stateText ?? ""),
    summary: summary ?? "",
    everything: [stdout, stderr, envText, outputText, stateText, summary].join("\n"),
  };
}

/** Runs a command with exactly `env` (plus PATH/HOME), as a later step of the job would. */
export function runCommand(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
