// `dind-k8s serve`: configuration → dependencies → listen → drain on SIGTERM. No logic of its own.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import type { Config } from "./config.ts";
import { apiUrlFor, createGitHubApi } from "./github/client.ts";
import type { GitHubAuth, GitHubTarget } from "./github/types.ts";
import type { KubeClient } from "./kube/client.ts";
import { KubeConfigError, loadKubeClient } from "./kube/load.ts";
import { apiserverSupportsNativeSidecars } from "./kube/runner-pods.ts";
import { createLogger, type Level } from "./observe/log.ts";
import type { ReconcilerTiming } from "./reconcile/reconciler.ts";
import type { RecoveryTiming } from "./reconcile/recovery.ts";
import { startScaler } from "./service.ts";

/** The scaler cannot start as configured; the message says what to fix. */
export class StartupError extends Error {
  override name = "StartupError";
}

export interface ServeOptions {
  config: Config;
  configFile: string;
  port: number;
  kubeconfig: string | undefined;
  logLevel: Level;
  env: NodeJS.ProcessEnv;
  readFile?: (path: string) => Promise<string>;
}

/** A secret from a file or an environment variable, as the config names it; the error says which key. */
async function secretFrom(
  what: string,
  source: { file?: string | undefined; env?: string | undefined; fileKey: string; envKey: string },
  env: NodeJS.ProcessEnv,
  read: (path: string) => Promise<string>,
): Promise<string> {
  if (source.file) {
    try {
      return (await read(source.file)).trim();
    } catch (error: unknown) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new StartupError(
        `${source.fileKey}: cannot read the ${what} from ${source.file} (${reason}); mount the Secret there`,
      );
    }
  }
  if (source.env) {
    const value = env[source.env];
    if (!value)
      throw new StartupError(
        `${source.envKey}: environment variable ${source.env} (the ${what}) is not set or empty`,
      );
    return value.trim();
  }
  throw new StartupError(`set ${source.fileKey} or ${source.envKey}: the ${what} is required`);
}

export interface Tuning {
  reconciler?: Partial<ReconcilerTiming>;
  recovery?: Partial<RecoveryTiming>;
  lease?: { leaseDurationMs?: number; retryPeriodMs?: number; renewDeadlineMs?: number };
}

/**
 * DIND_K8S_TUNING: JSON with timings for tests and benchmarks that need a faster control loop than a
 * cluster wants ({"reconciler": {"resyncMs": 200}, "recovery": {...}, "lease": {...}}). Every value must
 * be a positive number of milliseconds.
 */
export function parseTuning(text: string | undefined): Tuning {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StartupError("DIND_K8S_TUNING is not valid JSON");
  }
  const sections = ["reconciler", "recovery", "lease"];
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new StartupError(
      "DIND_K8S_TUNING: expected an object with reconciler, recovery and lease sections",
    );
  }
  for (const [section, values] of Object.entries(parsed)) {
    if (!sections.includes(section)) {
      throw new StartupError(`DIND_K8S_TUNING.${section}: unknown section; expected ${sections.join(", ")}`);
    }
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      if (typeof value !== "number" || !(value > 0)) {
        throw new StartupError(
          `DIND_K8S_TUNING.${section}.${key}: expected a positive number, got ${JSON.stringify(value)}`,
        );
      }
    }
  }
  return parsed as Tuning;
}

export async function serve(options: ServeOptions): Promise<number> {
  const { config, env } = options;
  const read = options.readFile ?? ((path: string) => readFile(path, "utf8"));
  const log = createLogger({ level: options.logLevel });
  const tuning = parseTuning(env.DIND_K8S_TUNING);

  // One secret per line: the current one first, and during a rotation the previous one after it.
  const webhookSecrets = (
    await secretFrom(
      "webhook secret",
      {
        file: config.github.webhookSecretFile,
        env: config.github.webhookSecretEnv,
        fileKey: "github.webhookSecretFile",
        envKey: "github.webhookSecretEnv",
      },
      env,
      read,
    )
  )
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  if (webhookSecrets.length === 0)
    throw new Error("the webhook secret is empty: the scaler refuses to accept unsigned webhooks");

  const { auth: authConfig } = config.github;
  let auth: GitHubAuth;
  if (authConfig.appId !== undefined) {
    const privateKeyPem = await secretFrom(
      "GitHub App private key",
      {
        file: authConfig.privateKeyFile,
        env: authConfig.privateKeyEnv,
        fileKey: "github.auth.privateKeyFile",
        envKey: "github.auth.privateKeyEnv",
      },
      env,
      read,
    );
    auth = {
      kind: "app",
      appId: authConfig.appId,
      privateKeyPem,
      ...(authConfig.installationId ? { installationId: authConfig.installationId } : {}),
    };
  } else {
    const token = await secretFrom(
      "GitHub token",
      {
        file: authConfig.tokenFile,
        env: authConfig.tokenEnv,
        fileKey: "github.auth.tokenFile",
        envKey: "github.auth.tokenEnv",
      },
      env,
      read,
    );
    auth = { kind: "token", token };
  }
  let target: GitHubTarget;
  if (config.github.org) target = { kind: "org", org: config.github.org };
  else {
    const [owner = "", repo = ""] = (config.github.repo ?? "").split("/");
    target = { kind: "repo", owner, repo };
  }
  const github = createGitHubApi({
    apiUrl: env.DIND_K8S_GITHUB_API_URL ?? apiUrlFor(config.github.url),
    target,
    auth,
    userAgent: "dind-k8s",
    ...(config.github.hookId ? { hookId: config.github.hookId } : {}),
    log: { warn: (message) => log.warn(message), debug: (message) => log.debug(message) },
  });

  let kube: KubeClient;
  try {
    // kubectl's lookup reads $KUBECONFIG, $HOME and the in-cluster variables of the process, as client-node does.
    kube = loadKubeClient(options.kubeconfig);
  } catch (error: unknown) {
    if (error instanceof KubeConfigError) throw new StartupError(error.message);
    throw error;
  }
  const sidecars =
    config.kubernetes.sidecars === "auto"
      ? (await apiserverSupportsNativeSidecars(kube))
        ? "native"
        : "legacy"
      : config.kubernetes.sidecars;

  const scaler = await startScaler({
    config,
    kube,
    github,
    webhookSecrets,
    sidecars,
    log,
    port: options.port,
    // Every replica takes webhooks (intake is idempotent); one reconciles.
    reconcile: {
      leaderElection: { identity: `${hostname()}-${randomBytes(3).toString("hex")}`, ...tuning.lease },
    },
    ...(tuning.reconciler ? { timing: tuning.reconciler } : {}),
    ...(tuning.recovery ? { recovery: tuning.recovery } : {}),
  });

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info("stopping: no new webhooks, finishing the ones in flight", { signal });
      void scaler.stop().then(resolve);
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  });
  log.info("stopped");
  return 0;
}
