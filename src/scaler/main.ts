// `dind-k8s serve`: configuration → dependencies → listen → drain on SIGTERM. No logic of its own: secrets and
// the configuration's tuning are read by startup/, the collaborators are built by service.ts.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import type { Config } from "./config/load.ts";
import { apiUrlFor, createGitHubApi } from "./github/client.ts";
import { targetFromConfig } from "./github/target.ts";
import type { KubeClient } from "./kube/client.ts";
import { KubeConfigError, loadKubeClient } from "./kube/load.ts";
import { serverVersion } from "./kube/server-version.ts";
import { sidecarModeFor } from "./model/sidecar-mode.ts";
import { createLogger, type Level } from "./observe/log.ts";
import { checkOnServer } from "./server-check.ts";
import { startScaler } from "./service.ts";
import { githubAuthSource, webhookSecretSource } from "./startup/secret-reload.ts";
import { StartupError } from "./startup/startup-error.ts";
import { tuningOf } from "./startup/tuning.ts";

export interface ServeOptions {
  config: Config;
  configFile: string;
  port: number;
  /** /healthz, /readyz and /metrics on their own port; the webhook port then takes only POST /webhook. */
  opsPort?: number | undefined;
  kubeconfig: string | undefined;
  logLevel: Level;
  env: NodeJS.ProcessEnv;
  readFile?: (path: string) => Promise<string>;
}

export async function serve(options: ServeOptions): Promise<number> {
  const { config, env } = options;
  const read = options.readFile ?? ((path: string) => readFile(path, "utf8"));
  const log = createLogger({ level: options.logLevel });
  const tuning = tuningOf(config);

  const reloadMs = tuning.secrets?.reloadMs ? { reloadMs: tuning.secrets.reloadMs } : {};
  const webhookSecrets = await webhookSecretSource(config, env, read, { log, ...reloadMs });
  // A rotated key or token file is put to work from the next GitHub call on (the client exists by then: the first
  // re-read is reloadMs away).
  const auth = await githubAuthSource(config, env, read, {
    log,
    ...reloadMs,
    use: (next) => github.useCredentials(next),
  });
  const target = targetFromConfig(config.github);
  // Aborted on SIGTERM: GitHub calls in flight must not hold the shutdown past the Pod's grace period.
  const abandonGitHub = new AbortController();
  const github = createGitHubApi({
    apiUrl: config.github.apiUrl ?? apiUrlFor(config.github.url),
    target,
    auth: auth.current(),
    userAgent: "dind-k8s",
    ...(config.github.hookId ? { hookId: config.github.hookId } : {}),
    log: { warn: (message) => log.warn(message), debug: (message) => log.debug(message) },
    signal: abandonGitHub.signal,
  });

  let kube: KubeClient;
  try {
    // kubectl's lookup reads $KUBECONFIG, $HOME and the in-cluster variables of the process, as client-node does.
    kube = loadKubeClient(options.kubeconfig);
  } catch (error: unknown) {
    if (error instanceof KubeConfigError) throw new StartupError(error.message);
    throw error;
  }
  const setting = config.kubernetes.sidecars;
  const sidecars = sidecarModeFor(setting, setting === "auto" ? await serverVersion(kube) : undefined);
  // The runner Pods this configuration makes, dry-run on the cluster: a template the apiserver (or an admission
  // policy) refuses stops the start, instead of every job. An apiserver that can't be asked doesn't: intake must
  // take webhooks as soon as it can, and the first job's create reports the same refusal.
  const refused = await checkOnServer(config, kube, sidecars).catch((error: unknown) => {
    log.warn("could not dry-run the runner Pods on the cluster; starting anyway", { error: String(error) });
    return [];
  });
  if (refused.length > 0) {
    await kube.close();
    throw new StartupError(
      `the cluster refuses the runner Pods of this configuration (server-side dry run):\n  ${refused.join("\n  ")}`,
    );
  }

  const scaler = await startScaler({
    config,
    kube,
    github,
    webhookSecrets: () => webhookSecrets.current(),
    sidecars,
    log,
    port: options.port,
    ...(options.opsPort === undefined ? {} : { opsPort: options.opsPort }),
    // Every replica takes webhooks (intake is idempotent); one reconciles.
    reconcile: {
      leaderElection: { identity: `${hostname()}-${randomBytes(3).toString("hex")}`, ...tuning.lease },
    },
    ...(tuning.reconciler ? { timing: tuning.reconciler } : {}),
    ...(tuning.recovery ? { recovery: tuning.recovery } : {}),
    ...(tuning.poll ? { poll: tuning.poll } : {}),
  });

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info("stopping: no new webhooks, finishing the ones in flight, abandoning GitHub calls", {
        signal,
      });
      webhookSecrets.stop();
      auth.stop();
      // A release cut short here leaves its Pod gated; the next leader finishes it.
      abandonGitHub.abort();
      void scaler.stop().then(resolve);
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  });
  log.info("stopped");
  return 0;
}
