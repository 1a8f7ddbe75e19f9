// Builds the scaler from its parts and runs it: HTTP intake on every replica, the reconciler where
// `leading` says so. Tests start it in-process with a real apiserver and the GitHub stand-in.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { CachePool } from "./cache/pool.ts";
import type { Config } from "./config/load.ts";
import { acceptsWebhooks } from "./config/schema.ts";
import { closeGracefully, createHttpServer, type HttpLimits } from "./http/server.ts";
import { CacheClaims } from "./kube/cache-claims.ts";
import type { KubeClient } from "./kube/client.ts";
import { LeaderElector } from "./kube/leader-election.ts";
import { SCALER_LEASE_NAME } from "./kube/rbac.ts";
import { RunnerPods } from "./kube/runner-pods.ts";
import { serverVersion } from "./kube/server-version.ts";
import { ANNOTATIONS } from "./model/keys.ts";
import type { SidecarMode } from "./model/sidecar-mode.ts";
import type { Logger } from "./observe/log.ts";
import { createMetrics } from "./observe/metrics.ts";
import { watchReachability } from "./observe/reachability.ts";
import { intakeReadiness } from "./readiness.ts";
import { DEFAULT_POLL_TIMING, DeliveryPoll, type PollGitHub, type PollTiming } from "./reconcile/poll.ts";
import { DEFAULT_RECONCILER_TIMING, Reconciler, type ReconcilerTiming } from "./reconcile/reconciler.ts";
import {
  DEFAULT_RECOVERY_TIMING,
  Recovery,
  type RecoveryGitHub,
  type RecoveryTiming,
} from "./reconcile/recovery.ts";
import type { RunnerRegistry } from "./reconcile/runner-registry.ts";
import { createJobRecords } from "./records/job-records.ts";
import { createIntake } from "./webhook/intake.ts";

export interface ScalerOptions {
  config: Config;
  kube: KubeClient;
  github: RunnerRegistry & RecoveryGitHub & PollGitHub & { ping(): Promise<void> };
  /** The delivery poll's budget and lookback (github.intake poll or both); its interval is github.pollInterval. */
  poll?: Partial<Omit<PollTiming, "intervalMs">>;
  /** Redelivery sweep + queued-job audit timing; false turns recovery off. */
  recovery?: Partial<RecoveryTiming> | false;
  /** Current secret first; a second one is accepted too while rotating. A function is asked on every delivery. */
  webhookSecrets: readonly string[] | (() => readonly string[]);
  sidecars: SidecarMode;
  log: Logger;
  port?: number;
  /** A second port for /healthz, /readyz and /metrics only; the first then takes only POST /webhook. */
  opsPort?: number;
  host?: string;
  /** Run the reconciler: always (true, default), never (false), or while this replica holds the Lease. */
  reconcile?:
    | boolean
    | {
        leaderElection: {
          identity: string;
          leaseDurationMs?: number;
          retryPeriodMs?: number;
          renewDeadlineMs?: number;
        };
      };
  timing?: Partial<ReconcilerTiming>;
  /** How often GitHub's reachability is probed (default 30 s). */
  githubProbeMs?: number;
  /** The HTTP server's limits (http/server.ts has the defaults); tests make them small. */
  http?: Partial<HttpLimits>;
}

export interface RunningScaler {
  url: string;
  /** Where /healthz, /readyz and /metrics are: the ops port's URL, or `url` when there is none. */
  opsUrl: string;
  pods: RunnerPods;
  reconciler: Reconciler;
  /** Present when the reconciler runs under leader election. */
  elector: LeaderElector | undefined;
  /** Present with github.intake poll or both; runs where the reconciler does. */
  poll: DeliveryPoll | undefined;
  metrics: ReturnType<typeof createMetrics>;
  /** Stop accepting, finish in-flight requests, stop the reconciler and the informer. */
  stop(): Promise<void>;
}

/** GitHub's reachability is probed this often, for a metric and a log line (never for /readyz). */
const GITHUB_PROBE_MS = 30_000;

export async function startScaler(options: ScalerOptions): Promise<RunningScaler> {
  const { config, log } = options;
  const metrics = createMetrics();
  const pods = new RunnerPods({
    kube: options.kube,
    namespace: config.kubernetes.namespace,
    onCacheList: () => metrics.podCacheLists.inc(),
  });
  const records = createJobRecords({ config, pods, sidecars: options.sidecars });
  const intake = createIntake({
    secrets: options.webhookSecrets,
    webhooks: acceptsWebhooks(config),
    runnerSets: config.runnerSets,
    owner: {
      org: config.github.org,
      repo: config.github.repo,
      installationId: config.github.auth.installationId,
    },
    recorder: records,
    log,
    metrics,
  });
  let elector: LeaderElector | undefined;
  const timing = { ...DEFAULT_RECONCILER_TIMING, ...options.timing };
  const recovery =
    options.recovery === false
      ? undefined
      : new Recovery({
          runnerSets: config.runnerSets,
          pods,
          github: options.github,
          podFor: records.podFor,
          backlog: records.backlog,
          log,
          metrics,
          timing: { ...DEFAULT_RECOVERY_TIMING, ...options.recovery },
          // The poll reads every failed delivery itself: asking GitHub to send them again would cost calls for
          // nothing (poll) or send the poll's jobs a second way (both).
          redeliver: config.github.intake === "webhook",
          // With leader election the sweep's cursor lives on the Lease, so a new leader doesn't re-scan.
          cursor: {
            load: () => {
              const value = elector?.annotation(ANNOTATIONS.redeliveryCursor);
              return value ? new Date(value) : undefined;
            },
            save: (at) => elector?.setAnnotation(ANNOTATIONS.redeliveryCursor, at.toISOString()),
          },
        });
  const cache = config.runnerSets.some((set) => set.cache)
    ? new CachePool({
        pods,
        claims: new CacheClaims({ kube: options.kube, namespace: config.kubernetes.namespace }),
        podFor: records.podFor,
        log,
        registry: metrics.registry,
        leaseGraceMs: timing.cacheLeaseGraceMs,
      })
    : undefined;
  const reconciler = new Reconciler({
    runnerSets: config.runnerSets,
    recovery,
    cache,
    runnerGroup: config.github.runnerGroup,
    pods,
    github: options.github,
    podFor: records.podFor,
    log,
    metrics,
    timing,
  });

  const intakeMode = config.github.intake;
  const poll =
    intakeMode === "webhook"
      ? undefined
      : new DeliveryPoll({
          github: options.github,
          intake,
          mode: intakeMode,
          installationId: config.github.auth.installationId,
          // On the Lease beside the sweep's, so a restart or a new leader reads on from where the last one was.
          cursor: {
            load: () => {
              const value = Number(elector?.annotation(ANNOTATIONS.pollCursor) ?? Number.NaN);
              return Number.isSafeInteger(value) ? value : undefined;
            },
            save: (id) => elector?.setAnnotation(ANNOTATIONS.pollCursor, String(id)),
          },
          onBudget: (low, remaining, intervalMs) =>
            void (low
              ? pods.scalerEvent(
                  "Warning",
                  "GitHubBudgetLow",
                  `${remaining} GitHub requests left in the rate-limit window: the delivery poll reads every ${intervalMs / 1000} s and fetches queued jobs only`,
                )
              : pods.scalerEvent(
                  "Normal",
                  "GitHubBudgetRecovered",
                  `${remaining} GitHub requests left: the delivery poll reads every ${intervalMs / 1000} s again`,
                )),
          log,
          metrics,
          timing: {
            ...DEFAULT_POLL_TIMING,
            ...options.poll,
            intervalMs: config.github.pollInterval * 1000,
          },
        });
  const lead = {
    start: () => {
      reconciler.start();
      poll?.start();
    },
    stop: async () => {
      await Promise.all([reconciler.stop(), poll?.stop()]);
    },
  };

  const readiness = intakeReadiness({ pods, kubeProbe: () => serverVersion(options.kube) });
  const github = watchReachability({
    what: "GitHub",
    probe: () => options.github.ping(),
    intervalMs: options.githubProbeMs ?? GITHUB_PROBE_MS,
    report: (value) => metrics.githubReachable.set(value),
    onChange: (reachable, problem) =>
      void (reachable
        ? pods.scalerEvent("Normal", "GitHubReachable", "GitHub answers again")
        : pods.scalerEvent(
            "Warning",
            "GitHubUnreachable",
            `GitHub does not answer (${problem}); webhooks are still taken, releases wait and retry with backoff`,
          )),
    log,
  });

  const http = {
    intake,
    readiness,
    ...(options.http ? { limits: options.http } : {}),
    onConnectionDropped: () => metrics.httpConnectionsDropped.inc(),
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  };
  const separateOps = options.opsPort !== undefined;
  const server = createHttpServer({ ...http, serves: separateOps ? "webhook" : "all" });
  const opsServer = separateOps ? createHttpServer({ ...http, serves: "ops" }) : undefined;

  await pods.start();
  const reconcile = options.reconcile ?? true;
  if (reconcile === true) lead.start();
  else if (reconcile !== false) {
    const election = reconcile.leaderElection;
    const leaseDurationMs = election.leaseDurationMs ?? 15_000;
    elector = new LeaderElector({
      kube: options.kube,
      namespace: config.kubernetes.namespace,
      leaseName: SCALER_LEASE_NAME,
      identity: election.identity,
      leaseDurationMs,
      retryPeriodMs: election.retryPeriodMs ?? Math.max(100, Math.round(leaseDurationMs / 7.5)),
      renewDeadlineMs: election.renewDeadlineMs ?? Math.round(leaseDurationMs * (2 / 3)),
      onStartedLeading: () => lead.start(),
      onStoppedLeading: () => lead.stop(),
      log,
    });
    elector.start();
  }
  const listen = async (listener: typeof server, at: number) => {
    listener.listen(at, options.host ?? "0.0.0.0");
    await once(listener, "listening");
    const { port } = listener.address() as AddressInfo;
    return `http://${options.host === undefined || options.host === "0.0.0.0" ? "127.0.0.1" : options.host}:${port}`;
  };
  const url = await listen(server, options.port ?? 8080);
  const opsUrl = opsServer ? await listen(opsServer, options.opsPort ?? 8081) : url;
  log.info("scaler listening", {
    url,
    ...(opsServer ? { opsUrl } : {}),
    namespace: config.kubernetes.namespace,
    reconcile: options.reconcile !== false,
    intake: intakeMode,
  });

  return {
    url,
    opsUrl,
    pods,
    reconciler,
    elector,
    poll,
    metrics,
    async stop() {
      await closeGracefully(server);
      if (opsServer) await closeGracefully(opsServer);
      // Releasing the Lease lets another replica take over at once instead of after a lease duration.
      await elector?.stop();
      await lead.stop();
      await github.stop();
      await pods.stop();
    },
  };
}
