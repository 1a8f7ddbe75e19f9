#!/usr/bin/env node
// `dind-k8s <command>`: a table of commands, each parsing its own flags. `serve` (the scaler) joins the table
// later; main() takes the table as a parameter so tests can run commands without a process.
import { realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
// Bundled into dist/ by esbuild, so the image needs no package.json beside the CLI.
import packageJson from "../package.json" with { type: "json" };
import { describeSchedules, describeSets } from "./scaler/config/describe.ts";
import { ConfigError, findRunnerSet, loadConfig } from "./scaler/config/load.ts";
import { type SidecarMode, sidecarModeFor } from "./scaler/model/sidecar-mode.ts";
import { buildRunnerPod } from "./scaler/runner-pod/build-runner-pod.ts";

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readFile: (path: string) => Promise<string>;
  /** The clock check-config reads the next activations of schedule windows from; the real one when omitted. */
  now?: () => Date;
}

export interface Command {
  summary: string;
  usage: string;
  run: (args: string[], io: Io) => Promise<number>;
}

export const EXIT = { ok: 0, failure: 1, usage: 2, badConfig: 2 } as const;

/** A wrong command line: printed with the command's usage, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

function parseFlags<T extends FlagSpec>(args: string[], spec: T) {
  try {
    return parseArgs({ args, options: { ...spec, help: { type: "boolean", short: "h" } }, strict: true })
      .values;
  } catch (error) {
    // node's messages name the flag ("Unknown option '--confg'"); keep them, drop the stack.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function requireFlag(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`missing ${flag}`);
  return value;
}

function wholeNumberFlag(
  value: string | boolean | undefined,
  flag: string,
  fallback: number,
  min: number,
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || number < min || !Number.isSafeInteger(number)) {
    throw new UsageError(`${flag}: expected a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return number;
}

const checkConfig: Command = {
  summary: "validate a configuration file and list every problem; --server: ask the cluster too",
  usage: `Usage: dind-k8s check-config --config FILE [--server [--kubeconfig FILE]]

Validates FILE (YAML) against the configuration schema and the rules between keys. Prints every problem with
its key path and line; exits 0 when the file is valid, 2 when it isn't. For a valid file, prints the next three
activations of each schedule window, in the window's time zone and in UTC.

With --server, each runner set's Pod and Secret, as the scaler would create them for a job, are also sent to the
cluster as a server-side dry run (dryRun=All, fieldValidation=Strict): the apiserver validates them, admission
policies and webhooks judge them, nothing is stored. What it refuses is printed in its words with the set's name
(exit 2); exit 1 when the cluster can't be asked. The scaler runs the same check when it starts.

Options:
  --config FILE       the configuration file
  --server            also dry-run each set's Pod and Secret on the cluster, in kubernetes.namespace
  --kubeconfig FILE   kubeconfig for --server (default: as serve, kubectl's lookup)
  -h, --help          show this help`,
  async run(args, io) {
    const flags = parseFlags(args, {
      config: { type: "string" },
      server: { type: "boolean" },
      kubeconfig: { type: "string" },
    });
    if (flags.help) {
      io.stdout(`${this.usage}\n`);
      return EXIT.ok;
    }
    const file = requireFlag(flags.config, "--config FILE");
    if (flags.kubeconfig !== undefined && !flags.server)
      throw new UsageError("--kubeconfig goes with --server");
    const config = await loadConfig(file, io.readFile);
    io.stdout(`${file}: valid. ${describeSets(config)}\n`);
    const schedules = describeSchedules(config, io.now?.() ?? new Date());
    if (schedules) io.stdout(schedules);
    if (!flags.server) return EXIT.ok;
    // Loaded only here: the plain check needs no Kubernetes client.
    const { checkConfigOnServer } = await import("./scaler/server-check.ts");
    const outcome = await checkConfigOnServer(
      config,
      typeof flags.kubeconfig === "string" ? flags.kubeconfig : undefined,
    );
    if (outcome.kind === "unreachable") {
      io.stderr(`${file}: can't check against the cluster: ${outcome.message}\n`);
      return EXIT.failure;
    }
    if (outcome.problems.length > 0) {
      const count = outcome.problems.length === 1 ? "1 object" : `${outcome.problems.length} objects`;
      io.stderr(
        `${file}: the cluster (${outcome.source}) refuses ${count}:\n${outcome.problems.map((p) => `  ${p}`).join("\n")}\n`,
      );
      return EXIT.badConfig;
    }
    io.stdout(
      `${file}: the cluster (${outcome.source}) accepts the Pod and Secret of every runner set (dry run, strict field validation, ${outcome.sidecars} sidecars).\n`,
    );
    return EXIT.ok;
  },
};

/** Job id shown by render: recognisable as made up, and as long as real ids get. */
export const PLACEHOLDER_JOB_ID = 12345678901;

const render: Command = {
  summary: "print the runner Pod and JIT config Secret a job of a runner set gets",
  usage: `Usage: dind-k8s render --config FILE --set NAME [--job-id N] [--run-attempt N] [--sidecars native|legacy]

Prints, as multi-document YAML, the Pod and the Secret the scaler would create for one job of runner set NAME,
with a placeholder job id and JIT config. Nothing is sent anywhere.

Options:
  --config FILE       the configuration file
  --set NAME          the runner set
  --job-id N          job id to name the Pod after (default ${PLACEHOLDER_JOB_ID})
  --run-attempt N     run attempt (default 1)
  --sidecars MODE     native (Kubernetes ≥ 1.29) or legacy; default: kubernetes.sidecars, with auto as native
  -h, --help          show this help`,
  async run(args, io) {
    const flags = parseFlags(args, {
      config: { type: "string" },
      set: { type: "string" },
      "job-id": { type: "string" },
      "run-attempt": { type: "string" },
      sidecars: { type: "string" },
    });
    if (flags.help) {
      io.stdout(`${this.usage}\n`);
      return EXIT.ok;
    }
    const file = requireFlag(flags.config, "--config FILE");
    const setName = requireFlag(flags.set, "--set NAME");
    const jobId = wholeNumberFlag(flags["job-id"], "--job-id", PLACEHOLDER_JOB_ID, 0);
    const runAttempt = wholeNumberFlag(flags["run-attempt"], "--run-attempt", 1, 1);
    if (flags.sidecars !== undefined && flags.sidecars !== "native" && flags.sidecars !== "legacy") {
      throw new UsageError(`--sidecars: expected native or legacy, got ${JSON.stringify(flags.sidecars)}`);
    }
    const config = await loadConfig(file, io.readFile);
    const set = findRunnerSet(config, setName);
    if (!set) {
      const names = config.runnerSets.map((s) => s.name).join(", ");
      io.stderr(`${file}: no runner set named ${JSON.stringify(setName)}; the file has: ${names}\n`);
      return EXIT.usage;
    }
    // No apiserver to ask here: "auto" renders as native, what every supported Kubernetes (≥ 1.29) gets.
    const sidecars: SidecarMode =
      (flags.sidecars as SidecarMode | undefined) ?? sidecarModeFor(config.kubernetes.sidecars);
    const { pod, secret } = buildRunnerPod(
      set,
      { kind: "job", jobId, runAttempt },
      { namespace: config.kubernetes.namespace, sidecars },
    );
    const header = [
      `# dind-k8s render: runner set ${set.name}, job ${jobId} attempt ${runAttempt}, ${sidecars} sidecar.`,
      "# The scaler creates the Pod scheduling-gated, then the Secret with a fresh JIT config, then lifts the gate.",
    ].join("\n");
    const documents = [pod, secret].map((object) =>
      stringify(object, { lineWidth: 0, aliasDuplicateObjects: false }),
    );
    io.stdout(`${header}\n---\n${documents.join("---\n")}`);
    return EXIT.ok;
  },
};

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

const serveCommand: Command = {
  summary: "run the scaler: webhook intake, and the reconciler in the replica that holds the Lease",
  usage: `Usage: dind-k8s serve --config FILE [--port N] [--ops-port N] [--kubeconfig FILE] [--log-level LEVEL]

Listens for GitHub webhooks on POST /webhook and serves GET /healthz, /readyz and /metrics (on --ops-port when
given, so that port is never crowded out by connections to the webhook port). Runner Pods are
created in kubernetes.namespace. Every replica takes webhooks; the one holding the Lease "dind-k8s-scaler"
reconciles. Logs are JSON lines on stdout. SIGTERM: stop accepting, finish requests in flight, abandon GitHub
calls, release the Lease, exit 0. Secrets come from the files or environment variables the configuration names.

Options:
  --config FILE       the configuration file
  --port N            port to listen on (default 8080; 0 picks a free one and logs it)
  --ops-port N        a second port for /healthz, /readyz and /metrics only; --port then takes only webhooks
  --kubeconfig FILE   kubeconfig to use (default: the files of $KUBECONFIG merged, else the in-cluster
                      ServiceAccount, else ~/.kube/config); read by @kubernetes/client-node: token, token-file,
                      client certificates, exec plugins, auth-provider, proxy-url and \`as\` work
  --log-level LEVEL   debug, info (default), warn or error
  -h, --help          show this help

Everything else is in the configuration file: the GitHub API URL (github.apiUrl) and the control loop's
timings (tuning) too; no environment variable changes where credentials go or how fast the loop runs.`,
  async run(args, io) {
    const flags = parseFlags(args, {
      config: { type: "string" },
      port: { type: "string" },
      "ops-port": { type: "string" },
      kubeconfig: { type: "string" },
      "log-level": { type: "string" },
    });
    if (flags.help) {
      io.stdout(`${this.usage}\n`);
      return EXIT.ok;
    }
    const file = requireFlag(flags.config, "--config FILE");
    const port = wholeNumberFlag(flags.port, "--port", 8080, 0);
    if (port > 65535) throw new UsageError(`--port: expected a whole number from 0 to 65535, got ${port}`);
    const opsPort =
      flags["ops-port"] === undefined ? undefined : wholeNumberFlag(flags["ops-port"], "--ops-port", 0, 0);
    if (opsPort !== undefined && opsPort > 65535) {
      throw new UsageError(`--ops-port: expected a whole number from 0 to 65535, got ${opsPort}`);
    }
    const logLevel = flags["log-level"] ?? "info";
    if (typeof logLevel !== "string" || !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
      throw new UsageError(
        `--log-level: expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`,
      );
    }
    const config = await loadConfig(file, io.readFile);
    // Loaded only here: check-config and render stay quick and need none of the scaler's dependencies.
    const [{ serve }, { StartupError }] = await Promise.all([
      import("./scaler/main.ts"),
      import("./scaler/startup/startup-error.ts"),
    ]);
    try {
      return await serve({
        config,
        configFile: file,
        port,
        opsPort,
        kubeconfig: typeof flags.kubeconfig === "string" ? flags.kubeconfig : undefined,
        logLevel: logLevel as (typeof LOG_LEVELS)[number],
        env: process.env,
      });
    } catch (error: unknown) {
      if (!(error instanceof StartupError)) throw error;
      io.stderr(`${file}: cannot start: ${error.message}\n`);
      return EXIT.failure;
    }
  },
};

export const commands: Record<string, Command> = { "check-config": checkConfig, render, serve: serveCommand };

function generalUsage(table: Record<string, Command>): string {
  const width = Math.max(...Object.keys(table).map((name) => name.length));
  const lines = Object.entries(table).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return `Usage: dind-k8s <command> [options]

Self-hosted GitHub Actions runners on Kubernetes, one Docker daemon per job.

Commands:
${lines.join("\n")}

Run dind-k8s <command> --help for a command's options, dind-k8s --version for the version.`;
}

/** Runs one command line; returns the exit code. Every failure is reported on stderr, never thrown. */
export async function main(
  argv: string[],
  io: Io,
  table: Record<string, Command> = commands,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.stderr : io.stdout)(`${generalUsage(table)}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    io.stdout(`${packageJson.version}\n`);
    return EXIT.ok;
  }
  const command = Object.hasOwn(table, name) ? table[name] : undefined;
  if (!command) {
    io.stderr(`dind-k8s: unknown command ${JSON.stringify(name)}\n\n${generalUsage(table)}\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      return EXIT.badConfig;
    }
    if (error instanceof UsageError) {
      io.stderr(`dind-k8s ${name}: ${error.message}\n\n${command.usage}\n`);
      return EXIT.usage;
    }
    io.stderr(`dind-k8s ${name}: ${withCauses(error)}\n`);
    return EXIT.failure;
  }
}

/** The error's stack, then each cause's message: undici's "fetch failed" says what failed only in its cause. */
function withCauses(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let text = error.stack ?? error.message;
  let cause: unknown = error.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    text += `\ncaused by: ${cause instanceof Error ? cause.message : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => readFile(path, "utf8"),
};

/** Run as a program (not imported)? import.meta.main is Node ≥ 24.2; the path check covers older Nodes. */
function invokedDirectly(): boolean {
  if (typeof import.meta.main === "boolean") return import.meta.main;
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await main(process.argv.slice(2), processIo);
}
