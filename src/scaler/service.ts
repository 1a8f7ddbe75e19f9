// Builds the scaler from its parts and runs it: HTTP intake on every replica, the reconciler where
// `leading` says so. Tests start it in-process with a real apiserver and the GitHub stand-in.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { CachePool } from "./cache/pool.ts";
import type { Config } from "./config/load.ts";
import { closeGracefully, createHttpServer } from "./http/server.ts";
import { CacheClaims } from "./kube/cache-claims.ts";
import type { KubeClient } from "./kube/client.ts";
import { LeaderElector } from "./kube/leader-election.ts";
import { SCALER_LEASE_NAME } from "./kube/rbac.ts";
import { RunnerPods } from "./kube/runner-pods.ts";
import { ANNOTATIONS } from "./model/keys.ts";
import type { SidecarMode } from "./model/sidecar-mode.ts";
import type { Logger } from "./observe/log.ts";
import { createMetrics } from "./observe/metrics.ts";
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
  github: RunnerRegistry & RecoveryGitHub & { ping(): Promise<void> };
  /** Redelivery sweep + queued-job audit timing; false turns recovery off. */
  recovery?: Partial<RecoveryTiming> | false;
  /** Current secret first; a second one is accepted too while rotating. */
  webhookSecrets: readonly string[];
  sidecars: SidecarMode;
  log: Logger;
  port?: number;
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
}

export interface RunningScaler {
  url: string;
  pods: RunnerPods;
  reconciler: Reconciler;
  /** Present when the reconciler runs under leader election. */
  elector: LeaderElector | undefined;
  metrics: ReturnType<typeof createMetrics>;
  /** Stop accepting, finish in-flight requests, stop the reconciler and the informer. */
  stop(): Promise<void>;
}

/** GitHub reachability is re-checked at most this often for /readyz. */
const GITHUB_PROBE_MS = 30_000;

export async function startScaler(options: ScalerOptions): Promise<RunningScaler> {
  const { config, log } = options;
  const metrics = createMetrics();
  const pods = new RunnerPods({ kube: options.kube, namespace: config.kubernetes.namespace });
  const records = createJobRecords({ config, pods, sidecars: options.sidecars });
  const intake = createIntake({
    secrets: options.webhookSecrets,
    runnerSets: config.runnerSets,
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
          log,
          metrics,
          timing: { ...DEFAULT_RECOVERY_TIMING, ...options.recovery },
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

  let github: { at: number; problem: string | undefined } = { at: 0, problem: "not checked yet" };
  const readiness = async () => {
    const problems: string[] = [];
    if (!pods.synced)
      problems.push(`runner Pod informer not synced${pods.lastError ? `: ${pods.lastError}` : ""}`);
    if (Date.now() - github.at > GITHUB_PROBE_MS) {
      const problem = await options.github.ping().then(
        () => undefined,
        (error: unknown) => `GitHub unreachable: ${error instanceof Error ? error.message : String(error)}`,
      );
      github = { at: Date.now(), problem };
    }
    if (github.problem) problems.push(github.problem);
    return problems;
  };

  const server = createHttpServer({
    intake,
    readiness,
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  });

  await pods.start();
  const reconcile = options.reconcile ?? true;
  if (reconcile === true) reconciler.start();
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
      onStartedLeading: () => reconciler.start(),
      onStoppedLeading: () => reconciler.stop(),
      log,
    });
    elector.start();
  }
  server.listen(options.port ?? 8080, options.host ?? "0.0.0.0");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host === undefined || options.host === "0.0.0.0" ? "127.0.0.1" : options.host}:${port}`;
  log.info("scaler listening", {
    url,
    namespace: config.kubernetes.namespace,
    reconcile: options.reconcile !== false,
  });

  return {
    url,
    pods,
    reconciler,
    elector,
    metrics,
    async stop() {
      await closeGracefully(server);
      // Releasing the Lease lets another replica take over at once instead of after a lease duration.
      await elector?.stop();
      await reconciler.stop();
      await pods.stop();
    },
  };
}
