// Never lose a job. GitHub does not retry a failed webhook delivery, so the leader
//  1. asks GitHub to redeliver failed workflow_job deliveries of our hook (./redelivery.ts), and
//  2. audits against GitHub: queued jobs of our labels without a Pod get one; gated job Pods whose job is
//     no longer queued and never started become tombstones. The audit's cost is bounded per pass.
import type { RunnerSet } from "../config/load.ts";
import type { RunnerPods, V1Pod } from "../kube/runner-pods.ts";
import { ANNOTATIONS, LABELS } from "../model/keys.ts";
import type { RunnerTarget } from "../model/target.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import { viewPod } from "../plan/pod-view.ts";
import type { Backlog } from "../records/backlog.ts";
import { runnerPodName } from "../runner-pod/names.ts";
import { routeJob } from "../webhook/route.ts";
import { type RedeliveryGitHub, RedeliverySweep } from "./redelivery.ts";

export interface RecoveryGitHub extends RedeliveryGitHub {
  listQueuedJobs(
    labels: string[],
  ): Promise<{ id: number; runId: number; runAttempt: number; labels: string[]; repo: string }[]>;
  getWorkflowJob(repo: string, jobId: number): Promise<{ status: string; runnerName: string | null }>;
  callCount(): number;
}

export interface RecoveryTiming {
  /** How often failed deliveries are looked for. */
  redeliveryMs: number;
  /** How far back a sweep looks at most (GitHub keeps deliveries for 3 days; see the default for why less). */
  redeliveryLookbackMs: number;
  /** How often the queued-job audit runs (it also runs right after becoming leader). */
  auditMs: number;
  /** A gated job Pod younger than this is left to its webhooks; older ones are checked against GitHub. */
  auditGraceMs: number;
  /** At most this many single-job look-ups per audit pass. */
  auditJobLookups: number;
}

export const DEFAULT_RECOVERY_TIMING: RecoveryTiming = {
  redeliveryMs: 2 * 60_000,
  // No further back than tombstones live (ReconcilerTiming.tombstoneTtlMs, 1 h): a `queued` redelivered after
  // its job's tombstone is gone would make a Pod for a finished job. Older losses are the audit's.
  redeliveryLookbackMs: 60 * 60_000,
  auditMs: 10 * 60_000,
  auditGraceMs: 5 * 60_000,
  auditJobLookups: 50,
};

export interface RecoveryOptions {
  runnerSets: readonly RunnerSet[];
  pods: RunnerPods;
  github: RecoveryGitHub;
  podFor(set: RunnerSet, target: RunnerTarget): V1Pod;
  /** The sets' backlog bound (maxQueued): the audit takes a place before it creates a job's Pod, as intake does. */
  backlog?: Backlog;
  log: Logger;
  metrics: Metrics;
  timing: RecoveryTiming;
  /** false: no redelivery sweep (the delivery poll reads failed deliveries itself); the audit still runs. */
  redeliver?: boolean;
  /** Durable cursor of the redelivery sweep (e.g. an annotation of the leader Lease); undefined: in memory only. */
  cursor?: { load(): Date | undefined; save(at: Date): void };
}

export class Recovery {
  readonly #options: RecoveryOptions;
  /** The redelivery sweep, and when it is next due. */
  readonly #sweep: RedeliverySweep;
  #nextSweepAtMs = 0;
  #lastAudit = 0;
  /** GitHub calls made by the last audit (for the bench and logs). */
  lastAuditCalls = 0;

  constructor(options: RecoveryOptions) {
    this.#options = options;
    this.#sweep = new RedeliverySweep({
      github: options.github,
      log: options.log,
      metrics: options.metrics,
      lookbackMs: options.timing.redeliveryLookbackMs,
      cursor: options.cursor,
    });
  }

  /** Forget timers: the next pass sweeps and audits at once (after becoming leader). */
  reset(): void {
    this.#nextSweepAtMs = 0;
    this.#lastAudit = 0;
  }

  async maybeRun(now: Date): Promise<void> {
    const { timing, metrics, log } = this.#options;
    if (this.#options.redeliver !== false && now.getTime() >= this.#nextSweepAtMs) {
      this.#nextSweepAtMs = now.getTime() + timing.redeliveryMs;
      const result = await this.#sweep.run(now).catch((error: unknown) => {
        metrics.reconcileErrors.inc({ step: "redelivery" });
        log.error("redelivery sweep failed", { error: String(error) });
      });
      // A probe to look at or to send again: sooner than the interval.
      if (result?.nextInMs !== undefined)
        this.#nextSweepAtMs = now.getTime() + Math.min(result.nextInMs, timing.redeliveryMs);
    }
    if (now.getTime() - this.#lastAudit >= timing.auditMs) {
      this.#lastAudit = now.getTime();
      await this.auditQueuedJobs(now).catch((error: unknown) => {
        metrics.reconcileErrors.inc({ step: "audit" });
        log.error("queued-job audit failed", { error: String(error) });
      });
    }
  }

  async auditQueuedJobs(now: Date): Promise<{ created: number; tombstoned: number; calls: number }> {
    const { github, pods, runnerSets, podFor, timing, log } = this.#options;
    const callsBefore = github.callCount();
    const labels = [...new Set(runnerSets.flatMap((set) => set.labels))];
    const queued = await github.listQueuedJobs(labels);
    this.#options.metrics.githubCalls.inc({ operation: "list-queued-jobs" });

    let created = 0;
    let lookups = 0;
    const queuedNames = new Set<string>();
    for (const job of queued) {
      const set = routeJob(job.labels, runnerSets);
      if (!set) continue;
      const target: RunnerTarget = {
        kind: "job",
        jobId: job.id,
        runAttempt: job.runAttempt,
        runId: job.runId,
        repository: job.repo,
      };
      const name = runnerPodName(set.name, target);
      queuedNames.add(name);
      if (pods.cachedPod(name)) continue;
      // The listing is a snapshot: a job it shows as queued may have run and finished meanwhile, its Pod
      // already gone. Ask about this one job before making it a Pod (bounded like the look-ups below).
      if (lookups >= timing.auditJobLookups) continue;
      lookups++;
      const current = await github.getWorkflowJob(job.repo, job.id).catch(() => undefined);
      this.#options.metrics.githubCalls.inc({ operation: "get-job" });
      if (current?.status !== "queued") continue;
      const { backlog } = this.#options;
      if (backlog && !backlog.reserve(set)) {
        log.info("queued job had no runner Pod, but its set's backlog is full: left for a later audit", {
          jobId: job.id,
          runnerSet: set.name,
        });
        continue;
      }
      const result = await pods.create(podFor(set, target)).catch((error: unknown) => {
        backlog?.release(set);
        throw error;
      });
      if (result.result !== "created") backlog?.release(set);
      if (result.result === "created") {
        created++;
        this.#options.metrics.jobsQueued.inc({ runner_set: set.name });
        log.warn("queued job had no runner Pod (lost webhook): created it", { jobId: job.id, pod: name });
      }
    }

    // Job Pods still counted as waiting that GitHub no longer lists as queued: ask about each (bounded),
    // and stop counting them if the job is over or another runner took it (an idle runner then becomes
    // surplus and is deregistered).
    let tombstoned = 0;
    for (const pod of pods.cached()) {
      const view = viewPod(pod);
      // Still counted as a waiting job: gated, or released with its runner idle.
      if (
        view.kind !== "job" ||
        (view.state !== "queued" && view.state !== "idle") ||
        view.jobState !== undefined
      ) {
        continue;
      }
      if (queuedNames.has(view.name) || now.getTime() - view.createdAtMs < timing.auditGraceMs) continue;
      if (lookups >= timing.auditJobLookups) break;
      const repo = pod.metadata?.annotations?.[ANNOTATIONS.repository];
      const jobId = Number(pod.metadata?.labels?.[LABELS.jobId]);
      if (!repo || !Number.isSafeInteger(jobId)) continue;
      lookups++;
      const job = await github.getWorkflowJob(repo, jobId).catch(() => undefined);
      this.#options.metrics.githubCalls.inc({ operation: "get-job" });
      if (!job || job.status === "queued" || job.status === "waiting") continue;
      const state = job.status === "completed" ? "done" : "started";
      await pods.patchMetadata(view.name, { labels: { [LABELS.jobState]: state } });
      tombstoned++;
    }
    this.lastAuditCalls = github.callCount() - callsBefore;
    if (created > 0 || tombstoned > 0) {
      log.info("queued-job audit", { created, settled: tombstoned, githubCalls: this.lastAuditCalls });
    }
    return { created, tombstoned, calls: this.lastAuditCalls };
  }
}
