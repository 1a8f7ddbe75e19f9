// The only file that speaks the GitHub Actions runner's protocol: INPUT_/STATE_ variables, the GITHUB_ENV,
// GITHUB_OUTPUT, GITHUB_STATE and GITHUB_STEP_SUMMARY files, and ::workflow commands:: on stdout.
//
// Why not @actions/core: its OIDC client pulls in undici, 784 KB of the 845 KB bundle per entry. Loading it
// costs ~130 ms of the 300 ms budget for the whole step and puts dist/action over 1 MB. The part of the
// protocol this action uses is the few functions below.
// Protocol: https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands
import { appendFileSync } from "node:fs";
import { EOL } from "node:os";

type Env = Record<string, string | undefined>;

/** `docker-host` → INPUT_DOCKER-HOST, as the runner names it (spaces become _, case is upper). */
export function inputVariableName(name: string): string {
  return `INPUT_${name.replaceAll(" ", "_").toUpperCase()}`;
}

export function getInput(name: string, env: Env = process.env): string {
  return (env[inputVariableName(name)] ?? "").trim();
}

export function getState(name: string, env: Env = process.env): string {
  return env[`STATE_${name}`] ?? "";
}

/** `name<<delimiter\nvalue\ndelimiter`: safe for multi-line values. */
export function keyValueMessage(
  name: string,
  value: string,
  delimiter = `ghadelimiter_${globalThis.crypto.randomUUID()}`,
): string {
  if (name.includes(delimiter) || value.includes(delimiter)) {
    throw new Error(`refusing to write ${name}: it contains the file command delimiter`);
  }
  return `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`;
}

function writeFileCommand(fileVariable: string, name: string, value: string, env: Env): void {
  const path = env[fileVariable];
  if (!path) {
    throw new Error(`${fileVariable} is not set: this must run as a step of a GitHub Actions job`);
  }
  appendFileSync(path, keyValueMessage(name, value), "utf8");
}

/** For later steps (GITHUB_ENV) and for the rest of this process. */
export function exportVariable(name: string, value: string, env: Env = process.env): void {
  writeFileCommand("GITHUB_ENV", name, value, env);
  process.env[name] = value;
}

export function setOutput(name: string, value: string, env: Env = process.env): void {
  writeFileCommand("GITHUB_OUTPUT", name, value, env);
}

/** Read back by the post step as STATE_<name>. */
export function saveState(name: string, value: string, env: Env = process.env): void {
  writeFileCommand("GITHUB_STATE", name, value, env);
}

/** Appends to the job summary; false when there is no summary file (not running under a runner). */
export function appendSummary(markdown: string, env: Env = process.env): boolean {
  const path = env.GITHUB_STEP_SUMMARY;
  if (!path) return false;
  appendFileSync(path, `${markdown}${EOL}`, "utf8");
  return true;
}

/** Workflow command data escaping: the runner decodes %25, %0D and %0A. */
export function escapeCommandData(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

export function info(message: string): void {
  process.stdout.write(`${message}${EOL}`);
}

export function warning(message: string): void {
  process.stdout.write(`::warning::${escapeCommandData(message)}${EOL}`);
}

export function error(message: string): void {
  process.stdout.write(`::error::${escapeCommandData(message)}${EOL}`);
}

/** Marks the step failed: an error annotation, and exit code 1 once the event loop is empty. */
export function setFailed(message: string): void {
  process.exitCode = 1;
  error(message);
}
