// Runs a workflow with nektos/act (a GitHub Actions runner written by others) on this host: jobs whose `runs-on`
// label maps to `-self-hosted` run as host processes, so no job container and no image is needed. Offline: no
// action is downloaded (`--local-repository` maps `uses:` to a local directory), no image pulled, no cache server,
// and no .actrc of the machine is read (HOME is the run's own). act's JSON log is parsed into records.
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** One line of act's `--json` log (logrus fields; only those the tests read). */
export interface ActRecord {
  msg: string;
  level: string;
  /** "Pre", "Main" or "Post" for a step's own lines. */
  stage?: string;
  /** The step's name: its `name:`, else its `uses:` or `run:`. */
  step?: string;
  /** A line the step's process printed. */
  raw_output?: boolean;
  /** A workflow command act understood (e.g. "error", "group", "set-env"), with its argument. */
  command?: string;
  arg?: string;
  /** At a step's end: "success", "failure" or "skipped"; with its duration in nanoseconds. */
  stepResult?: string;
  executionTime?: number;
  /** At the job's end: "success" or "failure". */
  jobResult?: string;
}

export interface ActRun {
  /** act's exit code: 0 when every job succeeded. */
  code: number | null;
  records: ActRecord[];
  stderr: string;
  durationMs: number;
}

export interface ActOptions {
  act: string;
  /** A directory of this run's own (the repository, HOME and act's action cache go under it). */
  dir: string;
  /** The workflow file's text. */
  workflow: string;
  /** The event that triggers it (its `on:`), with the payload act hands the job. */
  event: { name: string; payload: object };
  /** runs-on label → `-self-hosted` (the job runs on this host). */
  label: string;
  /** `owner/name@ref` → a local directory holding that action (action.yml and what it runs). */
  actions: Record<string, string>;
  /** The repository act reports as GITHUB_REPOSITORY (read from the checkout's origin remote). */
  repository: string;
}

/** A git repository with the workflow committed and an origin remote, as act expects a checkout to be. */
async function makeCheckout(dir: string, options: ActOptions): Promise<{ repo: string; workflow: string }> {
  const repo = join(dir, "repo");
  const workflow = join(repo, ".github", "workflows", "ci.yml");
  await mkdir(dirname(workflow), { recursive: true });
  await writeFile(workflow, options.workflow);
  const git = (...args: string[]) =>
    execFileAsync("git", [
      "-C",
      repo,
      "-c",
      "user.name=test",
      "-c",
      "user.email=test@example.invalid",
      ...args,
    ]);
  await git("init", "--quiet", "--initial-branch=main");
  await git("remote", "add", "origin", `https://github.com/${options.repository}.git`);
  await git("add", ".");
  await git("commit", "--quiet", "--message=ci");
  return { repo, workflow };
}

export async function runAct(options: ActOptions): Promise<ActRun> {
  const dir = await mkdtemp(join(options.dir, "act-"));
  const { repo, workflow } = await makeCheckout(dir, options);
  const home = join(dir, "home");
  await mkdir(home);
  const eventPath = join(dir, "event.json");
  await writeFile(eventPath, JSON.stringify(options.event.payload));
  const args = [
    options.event.name,
    `--directory=${repo}`,
    `--workflows=${workflow}`,
    `--eventpath=${eventPath}`,
    `--platform=${options.label}=-self-hosted`,
    "--json",
    // Offline: nothing pulled or fetched, no cache server listening.
    "--pull=false",
    "--action-offline-mode",
    `--action-cache-path=${join(dir, "action-cache")}`,
    "--no-cache-server",
    ...Object.entries(options.actions).map(([uses, path]) => `--local-repository=${uses}=${path}`),
    // Else act asks the gh CLI for a token.
    "--secret=GITHUB_TOKEN=unused",
  ];
  // The job's steps see this environment (act passes its own to host jobs): PATH with this Node first (the action
  // runs on node24), HOME, and nothing else — in particular no DOCKER_HOST or DOCKER_* of the test process.
  const env = {
    PATH: [dirname(process.execPath), process.env.PATH ?? "/usr/bin:/bin"].join(":"),
    HOME: home,
    LANG: "C.UTF-8",
  };
  const started = performance.now();
  const child = spawn(options.act, args, { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
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
    child.on("close", resolve);
  });
  const durationMs = performance.now() - started;
  const records = stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as ActRecord);
  return { code, records, stderr, durationMs };
}

/** What a step printed in one stage (Main, Post), as one text. */
export function stepOutput(run: ActRun, stage: string, step: string): string {
  return run.records
    .filter((record) => record.stage === stage && record.step === step && record.raw_output === true)
    .map((record) => record.msg)
    .join("");
}

/** The arguments of one workflow command (e.g. every `error`) a step's stage sent, in order. */
export function stepCommands(run: ActRun, stage: string, step: string, command: string): string[] {
  return run.records
    .filter((record) => record.stage === stage && record.step === step && record.command === command)
    .map((record) => record.arg ?? "");
}

/** A step's result in one stage, with how long it took; undefined when the step never ran in that stage. */
export function stepResult(
  run: ActRun,
  stage: string,
  step: string,
): { result: string; ms: number } | undefined {
  const record = run.records.find(
    (entry) => entry.stage === stage && entry.step === step && entry.stepResult !== undefined,
  );
  if (record?.stepResult === undefined) return undefined;
  return { result: record.stepResult, ms: (record.executionTime ?? 0) / 1e6 };
}
