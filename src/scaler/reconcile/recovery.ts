// Never lose a job. GitHub does not retry a failed webhook delivery, so the leader
//  1. asks GitHub to redeliver failed workflow_job deliveries of our hook (cheap: one listing per sweep,
//     reaching back only to the last sweep), and
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
import { inBatches } from "./batches.ts";

export interface RecoveryGitHub {
  listFailedWebhookDeliveries(
    since: Date,
  ): Promise<{ id: number; guid: string; event: string; deliveredAt: Date }[]>;
  redeliverWebhook(deliveryId: number): Promise<void>;
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

/** How soon after a probe redelivery the sweep looks whether it arrived (GitHub redelivers within seconds). */
const PROBE_CHECK_MS = 5_000;
/**
 * While the hook stays unreachable, the next probe goes this long after the last (or a sweep interval, if shorter):
 * it bounds how long the backlog waits once the hook is back, at two GitHub calls per probe (720 an hour of
 * outage). Measured: with a probe per 30 s sweep, 200 jobs started 55.8 s after a 120 s outage.
 */
const PROBE_RETRY_MS = 10_000;
/**
 * This many deliveries failed since the last sweep and none asked for yet: more likely an outage than a few lost
 * deliveries, so one is sent as a probe before the rest (costs PROBE_CHECK_MS when the hook does answer).
 */
const PROBE_FIRST_AT = 8;
/** A redelivery GitHub accepted and hasn't made within this long (it makes them within seconds) is asked again. */
const LOST_REDELIVERY_MS = 60_000;
/** Redeliveries asked for at once. */
const REDELIVERY_CONCURRENCY = 8;

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
  #lastSweep = 0;
  #lastAudit = 0;
  #since: Date | undefined;
  /**
   * Deliveries we asked GitHub to redeliver, by GUID: the attempt asked for, so a slow redelivery is not requested
   * twice and one that failed too (a newer failed attempt) is seen; when that attempt was made (the listing reaches
   * back to it); the first failure seen (past the lookback, the delivery is given up); and when we asked (a
   * redelivery not made within LOST_REDELIVERY_MS is asked for again).
   */
  readonly #requested = new Map<
    string,
    { id: number; deliveredAt: Date; firstAt: Date; askedAtMs: number }
  >();
  /**
   * Deliveries whose first failure we saw is past the lookback, by GUID: given up (the audit's now), and when. A
   * probe's newest attempt is recent, but its job may be long over: redelivered, it would make a Pod for it.
   */
  readonly #gaveUp = new Map<string, number>();
  /** A redelivery asked for alone while our redeliveries fail, to learn whether the hook answers again. */
  #probe: { guid: string; id: number; sentAtMs: number } | undefined;
  /** GitHub calls made by the last audit (for the bench and logs). */
  lastAuditCalls = 0;

  constructor(options: RecoveryOptions) {
    this.#options = options;
  }

  /** Forget timers: the next pass sweeps and audits at once (after becoming leader). */
  reset(): void {
    this.#lastSweep = 0;
    this.#lastAudit = 0;
  }

  async maybeRun(now: Date): Promise<void> {
    const { timing, metrics, log } = this.#options;
    if (this.#options.redeliver !== false && now.getTime() - this.#lastSweep >= timing.redeliveryMs) {
      this.#lastSweep = now.getTime();
      await this.sweepDeliveries(now).catch((error: unknown) => {
        metrics.reconcileErrors.inc({ step: "redelivery" });
        log.error("redelivery sweep failed", { error: String(error) });
      });
    }
    if (now.getTime() - this.#lastAudit >= timing.auditMs) {
      this.#lastAudit = now.getTime();
      await this.auditQueuedJobs(now).catch((error: unknown) => {
        metrics.reconcileErrors.inc({ step: "audit" });
        log.error("queued-job audit failed", { error: String(error) });
      });
    }
  }

  /**
   * Asks GitHub to redeliver each failed workflow_job delivery once. When the hook looks unreachable (a redelivery
   * failed too, or PROBE_FIRST_AT deliveries failed at once: an outage of the scaler or of the path to it), they
   * are not each asked for: one is sent alone as a probe and looked at PROBE_CHECK_MS later, and another
   * PROBE_RETRY_MS after it while that fails, and deliveries that fail meanwhile are held; once a probe arrives,
   * every held or failed delivery is asked for in that sweep. So after an outage every job's delivery is back
   * within PROBE_RETRY_MS and a few seconds, and an outage costs a listing and one redelivery per PROBE_RETRY_MS,
   * however many jobs queue during it (each redelivery is a GitHub call, from the App's hourly budget).
   */
  async sweepDeliveries(now: Date): Promise<number> {
    const { github, timing, log, metrics } = this.#options;
    const lookback = new Date(now.getTime() - timing.redeliveryLookbackMs);
    for (const [guid, asked] of this.#requested) {
      if (asked.firstAt >= lookback) continue;
      this.#requested.delete(guid);
      this.#gaveUp.set(guid, now.getTime());
      if (this.#probe?.guid === guid) this.#probe = undefined;
    }
    // A given-up GUID's newest attempt is no later than when we gave up: after a lookback no listing reaches it.
    for (const [guid, at] of this.#gaveUp)
      if (now.getTime() - at > timing.redeliveryLookbackMs) this.#gaveUp.delete(guid);
    let since = this.#since ?? this.#options.cursor?.load() ?? lookback;
    // Reach back to the oldest redelivery still unresolved: its failed attempt must stay in the listing.
    for (const asked of this.#requested.values()) if (asked.deliveredAt < since) since = asked.deliveredAt;
    if (since < lookback) since = lookback;
    const failed = (await github.listFailedWebhookDeliveries(since)).filter(
      (d) => d.event === "workflow_job" && !this.#gaveUp.has(d.guid),
    );
    metrics.githubCalls.inc({ operation: "list-deliveries" });
    const listed = new Map(failed.map((delivery) => [delivery.guid, delivery]));
    // Asked for, within the listing, and no longer failed: delivered.
    for (const [guid, asked] of this.#requested)
      if (!listed.has(guid) && asked.deliveredAt >= since) this.#requested.delete(guid);

    const ask = async (delivery: (typeof failed)[number]) => {
      await github.redeliverWebhook(delivery.id);
      metrics.githubCalls.inc({ operation: "redeliver" });
      this.#requested.set(delivery.guid, {
        id: delivery.id,
        deliveredAt: delivery.deliveredAt,
        firstAt: this.#requested.get(delivery.guid)?.firstAt ?? delivery.deliveredAt,
        askedAtMs: now.getTime(),
      });
    };
    const fresh: typeof failed = [];
    const failedAgain: typeof failed = [];
    for (const delivery of failed) {
      const asked = this.#requested.get(delivery.guid);
      if (asked === undefined) fresh.push(delivery);
      else if (delivery.id > asked.id || now.getTime() - asked.askedAtMs >= LOST_REDELIVERY_MS)
        failedAgain.push(delivery);
    }
    let requested = 0;
    let toAsk: typeof failed = [];
    let holding = true;
    const probe = this.#probe;
    const probeAttempt = probe === undefined ? undefined : listed.get(probe.guid);
    if (probe !== undefined && probeAttempt?.id === probe.id) {
      // GitHub hasn't redelivered the probe yet: look again soon, not a sweep interval later. One not redelivered
      // within PROBE_RETRY_MS counts as lost: the next sweep sends another.
      if (now.getTime() - probe.sentAtMs >= PROBE_RETRY_MS) {
        this.#probe = undefined;
        const asked = this.#requested.get(probe.guid);
        if (asked) asked.id = 0; // as never asked: it goes again with the rest
      }
      this.#lastSweep = now.getTime() - timing.redeliveryMs + Math.min(PROBE_CHECK_MS, timing.redeliveryMs);
    } else if (probe !== undefined && probeAttempt === undefined) {
      // The probe arrived: the hook answers again. Everything held and everything whose redelivery failed goes now.
      this.#probe = undefined;
      holding = false;
      toAsk = [...fresh, ...failedAgain];
      if (toAsk.length > 0)
        log.info("webhook deliveries arrive again: redelivering the ones that failed", {
          count: toAsk.length,
        });
    } else if (probe !== undefined) {
      // The probe failed too: still unreachable. The sweep PROBE_RETRY_MS after this probe sends another.
      this.#lastSweep = probe.sentAtMs - timing.redeliveryMs + Math.min(PROBE_RETRY_MS, timing.redeliveryMs);
      this.#probe = undefined;
    } else if (failedAgain.length > 0 || fresh.length >= PROBE_FIRST_AT) {
      // A redelivery failed, or many deliveries failed at once: the hook is likely unreachable. One goes alone.
      const first = failedAgain[0] ?? fresh[0];
      if (first !== undefined) {
        await ask(first);
        requested++;
        this.#probe = { guid: first.guid, id: first.id, sentAtMs: now.getTime() };
        // Look at the probe soon, not a whole interval later.
        this.#lastSweep = now.getTime() - timing.redeliveryMs + Math.min(PROBE_CHECK_MS, timing.redeliveryMs);
        log.warn("webhook deliveries fail; probing the hook with one redelivery before asking for the rest", {
          failedAgain: failedAgain.length,
          failed: fresh.length,
        });
      }
    } else {
      holding = false;
      toAsk = fresh;
    }
    // A few at a time: after an outage there are as many as jobs were queued, and each is one GitHub call.
    await inBatches(toAsk, REDELIVERY_CONCURRENCY, ask);
    requested += toAsk.length;
    // Held until a probe gets through: recorded as never asked (id 0), so the next listing reaches back to them and
    // they are asked for with the ones whose redelivery failed.
    if (holding)
      for (const delivery of fresh)
        if (!this.#requested.has(delivery.guid))
          this.#requested.set(delivery.guid, {
            id: 0,
            deliveredAt: delivery.deliveredAt,
            firstAt: delivery.deliveredAt,
            askedAtMs: now.getTime(),
          });
    // Next time, look back only to a little before this sweep: deliveries that fail meanwhile are newer.
    this.#since = new Date(now.getTime() - 60_000);
    let cursor = this.#since;
    for (const asked of this.#requested.values()) if (asked.deliveredAt < cursor) cursor = asked.deliveredAt;
    this.#options.cursor?.save(cursor);
    if (requested > 0) log.info("asked GitHub to redeliver failed webhook deliveries", { count: requested });
    return requested;
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
