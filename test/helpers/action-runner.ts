// Runs the action the way the GitHub Actions runner does: the bundle (built from the sources into a temp dir with
// the release's esbuild options) as `node <action>/dist/action/<step>.js`, with the variables and files a runner
// gives a node action's step: INPUT_* (named as the runner names them, action.yml defaults filled in),
// GITHUB_ENV / GITHUB_PATH / GITHUB_OUTPUT / GITHUB_STATE / GITHUB_STEP_SUMMARY, the run's GITHUB_* context with
// an event payload file, RUNNER_*; for the post step STATE_* from what main saved. What the step wrote is read
// back here; the writing is @actions/core's.
import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { parse } from "yaml";
import { actionBuildOptions } from "../../scripts/build.ts";

export const repoRoot = join(import.meta.dirname, "..", "..");

interface ActionYaml {
  inputs: Record<string, { default?: string }>;
  runs: { using: string; main: string; post: string };
}

export async function readActionYaml(dir = repoRoot): Promise<ActionYaml> {
  return parse(await readFile(join(dir, "action.yml"), "utf8")) as ActionYaml;
}

/** An action directory as a runner downloads it: action.yml and dist/, here built from the current sources. */
export interface BuiltAction {
  dir: string;
}

/** Builds src/action into `parent`/action-XXXX/dist with scripts/build.ts's options, next to a copy of action.yml. */
export async function buildAction(parent: string): Promise<BuiltAction> {
  const dir = await mkdtemp(join(parent, "action-"));
  await build(actionBuildOptions(join(dir, "dist")));
  await copyFile(join(repoRoot, "action.yml"), join(dir, "action.yml"));
  return { dir };
}

/** The runner's input variable name: spaces become _, letters upper case, hyphens stay (INPUT_DOCKER-HOST). */
export function inputVariable(name: string): string {
  return `INPUT_${name.replaceAll(" ", "_").toUpperCase()}`;
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

/** A `::name key=value,…::data` line of a step's stdout, decoded as the runner decodes it. */
export interface WorkflowCommand {
  command: string;
  properties: Record<string, string>;
  data: string;
}

function unescapeData(text: string): string {
  return text.replaceAll("%0A", "\n").replaceAll("%0D", "\r").replaceAll("%25", "%");
}

function unescapeProperty(text: string): string {
  return unescapeData(text.replaceAll("%3A", ":").replaceAll("%2C", ","));
}

export function parseWorkflowCommands(stdout: string): WorkflowCommand[] {
  const commands: WorkflowCommand[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const match = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!match) continue;
    const properties: Record<string, string> = {};
    for (const pair of (match[2] ?? "").split(",").filter(Boolean)) {
      const at = pair.indexOf("=");
      properties[pair.slice(0, at)] = unescapeProperty(pair.slice(at + 1));
    }
    commands.push({ command: match[1] as string, properties, data: unescapeData(match[3] ?? "") });
  }
  return commands;
}

/** Where the tests say the job runs: a GHES host, so a link that assumes github.com shows. */
export const TEST_RUN = {
  serverUrl: "https://ghes.example.internal",
  repository: "octo/app",
  runId: "1234",
  runAttempt: "2",
  job: "build",
  /** The run's page at this attempt, as the summary must link it. */
  runUrl: "https://ghes.example.internal/octo/app/actions/runs/1234/attempts/2",
  words: "job build of octo/app, run 1234 attempt 2",
} as const;

/** The file commands a runner offers; runners before 2.297 had GITHUB_ENV and GITHUB_STEP_SUMMARY but neither
 * GITHUB_OUTPUT nor GITHUB_STATE (outputs and state then went through `::set-output` / `::save-state`). */
export type RunnerGeneration = "current" | "before-output-and-state-files";

/**
 * The environment a runner gives a node action's step (besides INPUT_* and STATE_*), with its file-command
 * files created empty in `dir` and a push event payload at GITHUB_EVENT_PATH.
 */
export async function runnerEnvironment(
  dir: string,
  generation: RunnerGeneration = "current",
): Promise<{ env: Record<string, string>; files: Record<string, string> }> {
  const files: Record<string, string> = {
    GITHUB_ENV: join(dir, "env"),
    GITHUB_PATH: join(dir, "path"),
    GITHUB_STEP_SUMMARY: join(dir, "summary"),
  };
  if (generation === "current") {
    files.GITHUB_OUTPUT = join(dir, "output");
    files.GITHUB_STATE = join(dir, "state");
  }
  for (const path of Object.values(files)) await writeFile(path, "");
  const workspace = join(dir, "workspace");
  const temp = join(dir, "runner-temp");
  await Promise.all([mkdir(workspace, { recursive: true }), mkdir(temp, { recursive: true })]);
  const [owner, name] = TEST_RUN.repository.split("/");
  const eventPath = join(dir, "event.json");
  await writeFile(
    eventPath,
    JSON.stringify({
      ref: "refs/heads/main",
      after: "0123456789abcdef0123456789abcdef01234567",
      repository: { name, full_name: TEST_RUN.repository, owner: { login: owner } },
      sender: { login: "octocat" },
    }),
  );
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dir,
    CI: "true",
    GITHUB_ACTIONS: "true",
    RUNNER_OS: "Linux",
    RUNNER_ARCH: "X64",
    RUNNER_NAME: "dind-k8s-runner-1",
    RUNNER_ENVIRONMENT: "self-hosted",
    RUNNER_TEMP: temp,
    RUNNER_TOOL_CACHE: join(dir, "tool-cache"),
    RUNNER_WORKSPACE: dir,
    GITHUB_WORKSPACE: workspace,
    GITHUB_SERVER_URL: TEST_RUN.serverUrl,
    GITHUB_API_URL: `${TEST_RUN.serverUrl}/api/v3`,
    GITHUB_GRAPHQL_URL: `${TEST_RUN.serverUrl}/api/graphql`,
    GITHUB_REPOSITORY: TEST_RUN.repository,
    GITHUB_REPOSITORY_OWNER: owner ?? "",
    GITHUB_RUN_ID: TEST_RUN.runId,
    GITHUB_RUN_NUMBER: "56",
    GITHUB_RUN_ATTEMPT: TEST_RUN.runAttempt,
    GITHUB_JOB: TEST_RUN.job,
    GITHUB_WORKFLOW: "build",
    GITHUB_ACTION: "__org_dind-setup",
    GITHUB_ACTION_REPOSITORY: "org/dind-setup",
    GITHUB_ACTION_REF: "v1",
    GITHUB_ACTOR: "octocat",
    GITHUB_EVENT_NAME: "push",
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
    GITHUB_REF: "refs/heads/main",
    GITHUB_REF_NAME: "main",
    ...files,
  };
  return { env, files };
}

export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, as the runner would see the step take. */
  durationMs: number;
  /** Wall-clock time (Date.now()) the process exited, to compare with daemon log timestamps. */
  endedAt: number;
  /** Workflow commands on stdout (annotations, groups, and on older runners set-output / save-state). */
  commands: WorkflowCommand[];
  /** From the GITHUB_ENV file. */
  exportedEnv: Record<string, string>;
  /** From the GITHUB_OUTPUT file ({} when the runner has none). */
  outputs: Record<string, string>;
  /** From the GITHUB_STATE file ({} when the runner has none). */
  state: Record<string, string>;
  summary: string;
  /** stdout + stderr + every file the step wrote: what could end up in a log or an artifact. */
  everything: string;
}

export interface StepOptions {
  action: BuiltAction;
  /** A dir of its own for this step's files. */
  workDir: string;
  inputs?: Record<string, string>;
  /** The job's environment on top of the runner's (e.g. DOCKER_HOST for ARC runners, or what main exported). */
  env?: Record<string, string>;
  /** Names of the runner's variables to leave out (e.g. GITHUB_STEP_SUMMARY). */
  unset?: string[];
  /** For the post step: what main saved. */
  state?: Record<string, string>;
  runner?: RunnerGeneration;
  /** Called right after the process started (used to start a daemon late). */
  onSpawn?: () => void;
}

export async function runStep(step: "main" | "post", options: StepOptions): Promise<StepResult> {
  const action = await readActionYaml(options.action.dir);
  const dir = await mkdtemp(join(options.workDir, `${step}-`));
  const { env: runnerEnv, files } = await runnerEnvironment(dir, options.runner);
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) inputs[inputVariable(name)] = spec.default ?? "";
  for (const [name, value] of Object.entries(options.inputs ?? {})) inputs[inputVariable(name)] = value;
  const stateEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.state ?? {})) stateEnv[`STATE_${name}`] = value;
  // Only what a runner gives a step, so nothing from the test process leaks in.
  const env: Record<string, string> = { ...runnerEnv, ...options.env, ...inputs, ...stateEnv };
  for (const name of options.unset ?? []) delete env[name];

  const script = join(options.action.dir, step === "main" ? action.runs.main : action.runs.post);
  const started = performance.now();
  const child = spawn(process.execPath, [script], {
    cwd: runnerEnv.GITHUB_WORKSPACE,
    env,
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
  const read = (path: string | undefined) =>
    path === undefined ? Promise.resolve("") : readFile(path, "utf8");
  const [envText, outputText, stateText, summary] = await Promise.all([
    read(files.GITHUB_ENV),
    read(files.GITHUB_OUTPUT),
    read(files.GITHUB_STATE),
    read(files.GITHUB_STEP_SUMMARY),
  ]);
  return {
    code,
    stdout,
    stderr,
    durationMs,
    endedAt,
    commands: parseWorkflowCommands(stdout),
    exportedEnv: parseFileCommands(envText),
    outputs: parseFileCommands(outputText),
    state: parseFileCommands(stateText),
    summary,
    everything: [stdout, stderr, envText, outputText, stateText, summary].join("\n"),
  };
}

/** The data of each `::<command>::` line, in order (e.g. every error annotation's message). */
export function commandData(step: StepResult, command: string): string[] {
  return step.commands.filter((entry) => entry.command === command).map((entry) => entry.data);
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

/** runStep with the action and the work dir of one test file bound. */
export function stepsOf(
  action: () => BuiltAction,
  workDir: () => string,
): (step: "main" | "post", options?: Omit<StepOptions, "action" | "workDir">) => Promise<StepResult> {
  return (step, options = {}) => runStep(step, { ...options, action: action(), workDir: workDir() });
}
