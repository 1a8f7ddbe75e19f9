// The control loop. Runs on informer events (debounced) and on a timer, one pass at a time, in the
// one replica that holds the lease. Each pass plans every runner set from the Pod cache and acts.
// Size: the pass and its per-set steps share the timing, back-off, surplus and replacement state; the steps with
// state of their own (release, rollout, recovery, orphans) are in their own files.
import type { CachePool } from "../cache/pool.ts";
import type { RunnerSet } from "../config/load.ts";
import { GitHubApiError } from "../github/errors.ts";
import type { RunnerPods, V1Pod } from "../kube/runner-pods.ts";
import { ANNOTATIONS, LABELS } from "../model/keys.ts";
import type { Capacity } from "../model/schedule.ts";
import { type JobTarget, jobTargetOf, type RunnerTarget } from "../model/target.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import { planSet } from "../plan/plan-set.ts";
import { type RunnerPodView, viewPod } from "../plan/pod-view.ts";
import { planRollout } from "../plan/rollout.ts";
import { inBatches, randomId } from "./batches.ts";
import { OrphanSweep } from "./orphans.ts";
import type { Recovery } from "./recovery.ts";
import { Releaser } from "./release.ts";
import { Rollout } from "./rollout.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import { SetCapacity } from "./set-capacity.ts";

export interface ReconcilerOptions {
  runnerSets: readonly RunnerSet[];
  /** Redelivery sweep and queued-job audit, run from the loop; none turns them off (tests of other behaviour). */
  recovery?: Recovery | undefined;
  /** The Docker cache volume pools, when a set has one. */
  cache?: CachePool | undefined;
  /** github.runnerGroup: the default for sets that name none. */
  runnerGroup: string | undefined;
  pods: RunnerPods;
  github: RunnerRegistry;
  podFor(set: RunnerSet, target: RunnerTarget): V1Pod;
  log: Logger;
  metrics: Metrics;
  timing: ReconcilerTiming;
}

export interface ReconcilerTiming {
  /** A full pass at least this often, even without events. */
  resyncMs: number;
  /** Events closer than this are handled in one pass. */
  debounceMs: number;
  /**
   * A pass's planning (grouping every cached Pod, planning every set) runs on the event loop intake shares. With
   * 10,000 Pods it takes milliseconds, so an event waits at least this many times as long as the last planning
   * took: passes then keep to about 1/this of the loop, and a webhook rarely waits behind one.
   */
  planShareFactor: number;
  /** Released Pods that are not Running after this long are replaced. */
  pendingDeadlineMs: number;
  tombstoneTtlMs: number;
  idleGraceMs: number;
  /** How often registered runners are checked for ones without a Pod. */
  orphanSweepMs: number;
  /** First back-off after a stuck Pod; doubles per failure up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** GitHub calls in flight at once while releasing. */
  releaseConcurrency: number;
  /** A cache claim leased for a release that hasn't finished after this long is freed again. */
  cacheLeaseGraceMs: number;
}

export const DEFAULT_RECONCILER_TIMING: ReconcilerTiming = {
  resyncMs: 15_000,
  debounceMs: 25,
  planShareFactor: 20,
  pendingDeadlineMs: 10 * 60_000,
  tombstoneTtlMs: 60 * 60_000,
  idleGraceMs: 60_000,
  orphanSweepMs: 5 * 60_000,
  backoffMs: 10_000,
  maxBackoffMs: 10 * 60_000,
  releaseConcurrency: 8,
  cacheLeaseGraceMs: 2 * 60_000,
};

export class Reconciler {
  readonly #options: ReconcilerOptions;
  readonly #timing: ReconcilerTiming;
  #running = false;
  #again = false;
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #idle: Promise<void> = Promise.resolve();
  #lastOrphanSweep = 0;
  /** CPU time of the last pass's planning, in ms (no network waits in it). */
  #planMs = 0;
  #planning = 0;
  readonly #releaser: Releaser;
  readonly #rollout: Rollout;
  readonly #orphans: OrphanSweep;
  readonly #capacity: SetCapacity;
  /** A pass when a schedule window next starts or stops applying, if sooner than the next resync. */
  #windowTimer: NodeJS.Timeout | undefined;
  /**
   * Job Pods to create again once the old one is gone: stuck ones, and finished ones whose runner took another job
   * (`ifStillQueued`: only if GitHub still has that job queued when the old Pod is gone).
   */
  readonly #replacements = new Map<string, { set: RunnerSet; pod: V1Pod; ifStillQueued?: JobTarget }>();
  readonly #backoff = new Map<string, { failures: number; until: number }>();
  /** Since when each set has had runners beyond what it needs. */
  readonly #surplusSince = new Map<string, number>();
  readonly recovery: Recovery | undefined;
  /** The Docker cache volume pools of the sets that have one. */
  readonly cache: CachePool | undefined;
  /** Passes completed; tests wait on it. */
  passes = 0;

  constructor(options: ReconcilerOptions) {
    this.#options = options;
    this.#timing = options.timing;
    this.cache = options.cache;
    this.recovery = options.recovery;
    this.#rollout = new Rollout(options);
    this.#releaser = new Releaser({ ...options, rollout: this.#rollout, stopped: () => this.#stopped });
    this.#orphans = new OrphanSweep(options);
    this.#capacity = new SetCapacity(options.runnerSets, options.metrics, options.log);
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    // A new leader (or a restart) sweeps deliveries and audits queued jobs on its first pass.
    this.recovery?.reset();
    this.#unsubscribe = this.#options.pods.onChange(() => this.trigger());
    this.#timer = setInterval(() => this.trigger(), this.#timing.resyncMs);
    this.trigger();
  }

  /** Stops scheduling passes and waits for the one in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
    this.#debounce = undefined; // else trigger() waits on it forever after a restart (a leader leading again)
    clearTimeout(this.#windowTimer);
    await this.#idle;
  }

  /** Asks for a pass soon; passes never overlap. */
  trigger(): void {
    if (this.#stopped || this.#debounce) return;
    this.#debounce = setTimeout(
      () => {
        this.#debounce = undefined;
        void this.#loop();
      },
      Math.max(this.#timing.debounceMs, this.#timing.planShareFactor * this.#planMs),
    );
  }

  async #loop(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    let done!: () => void;
    this.#idle = new Promise((resolve) => {
      done = resolve;
    });
    try {
      do {
        this.#again = false;
        await this.reconcileOnce();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#running = false;
      done();
    }
  }

  /** One pass over every runner set. Errors of one step are logged and counted; the pass goes on. */
  async reconcileOnce(now = new Date()): Promise<void> {
    const { pods, runnerSets, metrics } = this.#options;
    const started = performance.now();
    const bySet = new Map<string, RunnerPodView[]>(runnerSets.map((set) => [set.name, []]));
    for (const pod of pods.cached()) {
      const setName = pod.metadata?.labels?.[LABELS.runnerSet];
      if (setName) bySet.get(setName)?.push(viewPod(pod));
    }
    // Planning time of this pass: the grouping above plus each set's planSet (see planShareFactor).
    this.#planning = performance.now() - started;
    await this.#createReplacements();
    let changesAtMs = Number.POSITIVE_INFINITY;
    for (const set of runnerSets) {
      const capacity = this.#capacity.at(set, now);
      changesAtMs = Math.min(changesAtMs, capacity.changesAtMs);
      await this.#reconcileSet(set, bySet.get(set.name) ?? [], now, capacity).catch((error: unknown) => {
        metrics.reconcileErrors.inc({ step: "set" });
        this.#options.log.error("reconcile pass failed", { runnerSet: set.name, error: String(error) });
      });
    }
    clearTimeout(this.#windowTimer);
    const untilChange = changesAtMs - now.getTime();
    if (!this.#stopped && untilChange < this.#timing.resyncMs)
      this.#windowTimer = setTimeout(() => this.trigger(), Math.max(0, untilChange));
    if (now.getTime() - this.#lastOrphanSweep >= this.#timing.orphanSweepMs) {
      this.#lastOrphanSweep = now.getTime();
      await this.#orphans.sweep().catch((error: unknown) => {
        metrics.reconcileErrors.inc({ step: "orphans" });
        this.#options.log.error("orphan runner sweep failed", { error: String(error) });
      });
    }
    if (!this.#stopped) await this.recovery?.maybeRun(now);
    const remaining = this.#options.github.rateLimitRemaining();
    if (remaining !== undefined) metrics.githubRateLimitRemaining.set(remaining);
    this.passes++;
    this.#planMs = this.#planning;
    metrics.reconcilePassSeconds.observe((performance.now() - started) / 1000);
  }

  async #reconcileSet(set: RunnerSet, views: RunnerPodView[], now: Date, capacity: Capacity): Promise<void> {
    const { metrics, log } = this.#options;
    const backoff = this.#backoff.get(set.name);
    const planStarted = performance.now();
    this.#capacity.observe(set, views, now.getTime());
    const plan = planSet({
      views,
      // The schedule's values at this instant (its lead time included), else the set's own.
      maxRunners: capacity.maxRunners,
      minIdle: capacity.minIdle,
      now,
      tombstoneTtlMs: this.#timing.tombstoneTtlMs,
      pendingDeadlineMs: this.#timing.pendingDeadlineMs,
      idleGraceMs: this.#timing.idleGraceMs,
      mayRelease: backoff === undefined || now.getTime() >= backoff.until,
      fairness: {
        mode: set.fairness,
        weights: set.repositoryWeights,
        maxPerRepository: set.maxRunnersPerRepository,
      },
    });
    this.#planning += performance.now() - planStarted;
    for (const [state, count] of Object.entries(plan.counts)) {
      metrics.runners.set({ runner_set: set.name, phase: state }, count);
    }
    if (views.some((view) => view.running) && backoff) this.#backoff.delete(set.name);
    const specHash = this.#rollout.currentHash(set);
    const removed = new Set([...plan.surplus, ...plan.stuck].map((view) => view.name));
    const rollout = planRollout(views, specHash, removed);
    this.#rollout.report(set, rollout, specHash);

    // Counted per failure, logged once per step and pass: with the apiserver down, every Pod's release fails alike.
    const failures = new Map<string, { times: number; error: string }>();
    const step = (name: string) => (error: unknown) => {
      metrics.reconcileErrors.inc({ step: name });
      const seen = failures.get(name);
      if (seen) seen.times++;
      else failures.set(name, { times: 1, error: String(error) });
    };
    try {
      await this.#act(set, { views, now, plan, rollout, specHash }, step);
    } finally {
      for (const [name, { times, error }] of failures) {
        log.error(`reconcile step ${name} failed`, {
          runnerSet: set.name,
          error,
          ...(times > 1 ? { times } : {}),
        });
      }
    }
  }

  /** The pass's actions for one set, in order; each failure goes to `step` and the next action goes on. */
  async #act(
    set: RunnerSet,
    {
      views,
      now,
      plan,
      rollout,
      specHash,
    }: {
      views: RunnerPodView[];
      now: Date;
      plan: ReturnType<typeof planSet>;
      rollout: ReturnType<typeof planRollout>;
      specHash: string;
    },
    step: (name: string) => (error: unknown) => void,
  ): Promise<void> {
    const { pods } = this.#options;
    // Before anything is deleted: how finished Pods left their cache claims is read from their status.
    if (set.cache) await this.cache?.sync(set, views, now).catch(step("cache"));

    for (const view of plan.finished) {
      await this.#removeFinished(set, view).catch(step("delete-finished"));
    }
    for (const view of plan.expiredTombstones) {
      await pods.delete(view.name, view.uid).catch(step("delete-tombstone"));
    }
    for (const view of plan.stuck) {
      await this.#replaceStuck(set, view).catch(step("replace-stuck"));
    }
    // A surplus can be an illusion for a moment: the two writes of one in_progress event (job started,
    // runner busy) land one after the other. Act only on a surplus that has lasted idleGraceMs.
    if (plan.surplus.length === 0) this.#surplusSince.delete(set.name);
    else if (!this.#surplusSince.has(set.name)) this.#surplusSince.set(set.name, now.getTime());
    else if (now.getTime() - this.#surplusSince.get(set.name)! >= this.#timing.idleGraceMs) {
      for (const view of plan.surplus) {
        await this.#removeSurplus(view).catch(step("remove-surplus"));
      }
      this.#surplusSince.delete(set.name);
    }
    // Idle warm runners made with an old spec: minIdle brings fresh ones on the next pass.
    for (const view of rollout.replace) {
      await this.#removeReleased(view, "its spec is outdated").catch(step("replace-outdated"));
    }
    for (let i = 0; i < plan.warmToCreate; i++) {
      await pods
        .create(this.#options.podFor(set, { kind: "warm", id: randomId() }))
        .catch(step("create-warm"));
    }
    await inBatches(plan.release, this.#timing.releaseConcurrency, (view) =>
      this.#releaser.release(set, view, specHash).catch(step("release")),
    );
  }

  async #deregister(view: RunnerPodView): Promise<"deleted" | "busy" | "not-found" | "unknown"> {
    if (view.runnerId === undefined) return "unknown";
    const outcome = await this.#options.github.deleteRunner(view.runnerId);
    this.#options.metrics.githubCalls.inc({ operation: "delete-runner" });
    return outcome;
  }

  async #removeFinished(set: RunnerSet, view: RunnerPodView): Promise<void> {
    const { log } = this.#options;
    // An ephemeral runner deregisters itself after its job; one that never ran a job (crashed, or the Pod
    // failed before it connected) stays registered offline unless we remove it.
    if (!view.pod.metadata?.annotations?.[ANNOTATIONS.busyWith])
      await this.#deregister(view).catch(() => "unknown");
    // The Pod is its job's record. Its runner took another job (or none), and neither in_progress nor completed
    // came for its own: if GitHub still has that job queued once this Pod is gone, a fresh gated Pod keeps it, or
    // nothing would run it. Asked only then: an event that arrives meanwhile lands on the old Pod, or as a tombstone.
    await this.#deleteKeepingJob(set, view, { askGitHub: true });
    log.info("finished runner removed", { pod: view.name, phase: view.phase });
  }

  /**
   * Deletes the Pod and its Secret; if its job never showed up started, the same job gets a fresh gated Pod (same
   * name, so dedup still holds) once the old one is gone — with `askGitHub`, only if GitHub still has it queued then.
   */
  async #deleteKeepingJob(set: RunnerSet, view: RunnerPodView, { askGitHub }: { askGitHub: boolean }) {
    await this.#options.pods.delete(view.name, view.uid);
    await this.#options.pods.deleteSecret(view.name);
    const target = view.jobState === undefined ? jobTargetOf(view.pod) : undefined;
    if (target) {
      const pod = this.#options.podFor(set, target);
      this.#replacements.set(view.name, { set, pod, ...(askGitHub ? { ifStillQueued: target } : {}) });
    }
  }

  /** GitHub's word on a job whose runner Pod ended without running it; a look-up that failed counts as queued. */
  async #stillQueued(target: JobTarget): Promise<boolean> {
    if (!target.repository) return true;
    this.#options.metrics.githubCalls.inc({ operation: "get-job" });
    const job = await this.#options.github.getWorkflowJob(target.repository, target.jobId).then(
      (found) => found.status,
      (error: unknown) => (error instanceof GitHubApiError && error.status === 404 ? "not-found" : "unknown"),
    );
    return job === "queued" || job === "waiting" || job === "unknown";
  }

  async #replaceStuck(set: RunnerSet, view: RunnerPodView): Promise<void> {
    const { pods, metrics, log } = this.#options;
    const reason = view.pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False")
      ? "Unschedulable"
      : "NotRunning";
    await pods.event(
      view.pod,
      "Warning",
      "RunnerStuckPending",
      `runner Pod was not Running ${Math.round(this.#timing.pendingDeadlineMs / 1000)} s after release (${reason}); replacing it`,
    );
    metrics.podsReplaced.inc({ runner_set: set.name, reason });
    if (view.state !== "busy") await this.#deregister(view).catch(() => "unknown");
    await this.#deleteKeepingJob(set, view, { askGitHub: false });
    const previous = this.#backoff.get(set.name)?.failures ?? 0;
    const delay = Math.min(this.#timing.backoffMs * 2 ** previous, this.#timing.maxBackoffMs);
    this.#backoff.set(set.name, { failures: previous + 1, until: Date.now() + delay });
    log.warn("stuck runner Pod replaced; releases of the set back off", {
      runnerSet: set.name,
      pod: view.name,
      reason,
      backoffMs: delay,
    });
  }

  async #createReplacements(): Promise<void> {
    for (const [name, replacement] of this.#replacements) {
      if (this.#options.pods.cachedPod(name)) continue;
      if (replacement.ifStillQueued) {
        if (!(await this.#stillQueued(replacement.ifStillQueued))) {
          this.#replacements.delete(name);
          continue;
        }
        this.#options.log.info("a finished runner's own job is still queued: its Pod is made again", {
          pod: name,
        });
        delete replacement.ifStillQueued;
      }
      const created = await this.#options.pods.create(replacement.pod).catch(() => undefined);
      if (created) this.#replacements.delete(name);
    }
  }

  async #removeSurplus(view: RunnerPodView): Promise<void> {
    if (view.state === "queued") {
      const { pods } = this.#options;
      if (view.kind === "warm") await pods.delete(view.name, view.uid);
      // A job Pod whose job another runner took: keep it as a tombstone for dedup.
      else await pods.patchMetadata(view.name, { labels: { [LABELS.jobState]: "done" } });
      return;
    }
    await this.#removeReleased(view, "surplus");
  }

  /** A released runner removed, unless it took a job meanwhile. */
  async #removeReleased(view: RunnerPodView, why: string): Promise<void> {
    const { pods, log } = this.#options;
    // Released: GitHub is the arbiter. 422 means the runner took a job meanwhile: keep it.
    const outcome = await this.#deregister(view);
    if (outcome === "busy") {
      await pods.patchMetadata(view.name, { annotations: { [ANNOTATIONS.busyWith]: "unknown" } });
      return;
    }
    await pods.delete(view.name, view.uid);
    await pods.deleteSecret(view.name);
    log.info("runner removed", { pod: view.name, why, outcome });
  }
}
