// Rolling a runner set's changed spec out to its Pods (plan/rollout.ts decides which). A queued Pod is gated, and
// a Pod's spec can't be changed in place, so one made with an old spec is recreated just before its release: same
// name (the job's identity, so duplicate deliveries still dedupe), the labels and annotations the scaler wrote on
// it, and its place in the queue (dind-k8s.io/queued-at, which the planner orders by). Idle warm runners are
// replaced; busy runners finish their job.
//
// The window between deleting the old Pod and creating the new one is the same as a cache claim's (cache/pool.ts):
// a scaler killed inside it loses the record, and the queued-job audit (reconcile/recovery.ts) creates it again
// from GitHub's list of queued jobs, at the back of the queue.
import type { RunnerSet } from "../config/load.ts";
import type { RunnerPods, V1Pod } from "../kube/runner-pods.ts";
import { ANNOTATIONS } from "../model/keys.ts";
import { type RunnerTarget, targetOf } from "../model/target.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import { type RunnerPodView, viewPod } from "../plan/pod-view.ts";
import type { RolloutPlan } from "../plan/rollout.ts";
import { SPEC_HASH_TARGET } from "../runner-pod/spec-hash.ts";

export interface RolloutOptions {
  pods: RunnerPods;
  podFor(set: RunnerSet, target: RunnerTarget): V1Pod;
  log: Logger;
  metrics: Metrics;
}

export class Rollout {
  readonly #options: RolloutOptions;
  /** Per set, the stale counts last reported: the log line is written when they change. */
  readonly #reported = new Map<string, string>();

  constructor(options: RolloutOptions) {
    this.#options = options;
  }

  /** The spec hash the set's Pods get now. */
  currentHash(set: RunnerSet): string {
    return this.#options.podFor(set, SPEC_HASH_TARGET).metadata?.annotations?.[ANNOTATIONS.specHash] ?? "";
  }

  /**
   * The gated Pod of `view` made again with the set's current spec. undefined when the Pod changed or went
   * meanwhile (an event's write, a duplicate delivery): the next pass decides again.
   */
  async refresh(set: RunnerSet, view: RunnerPodView): Promise<RunnerPodView | undefined> {
    const { pods, log } = this.#options;
    const target = targetOf(view.pod);
    const fresh = target ? this.#options.podFor(set, target) : undefined;
    // A Pod whose labels don't say what it is for can't be built again: it is released as it is.
    if (!fresh?.metadata || fresh.metadata.name !== view.name) return view;
    const hash = fresh.metadata.annotations?.[ANNOTATIONS.specHash];
    fresh.metadata.labels = { ...fresh.metadata.labels, ...view.pod.metadata?.labels };
    fresh.metadata.annotations = {
      ...fresh.metadata.annotations,
      ...view.pod.metadata?.annotations,
      ...(hash ? { [ANNOTATIONS.specHash]: hash } : {}),
      [ANNOTATIONS.queuedAt]: new Date(view.createdAtMs).toISOString(),
    };
    // The old Pod goes only once the apiserver takes the new one (an admission policy may have changed since the
    // start's dry run): a refused spec leaves the job on the spec it has rather than without a Pod.
    const refusal = await pods.refusal(fresh);
    if (refusal) {
      log.error(
        "the cluster refuses the set's current spec; the queued Pod is released with the one it has",
        {
          runnerSet: set.name,
          pod: view.name,
          refusal,
        },
      );
      return view;
    }
    // Only the object we read: a Pod changed since (its job started, say) is left for the next pass.
    if ((await pods.delete(view.name, view.uid, view.pod.metadata?.resourceVersion)) !== "deleted")
      return undefined;
    const created = await pods.create(fresh);
    log.info("queued runner Pod recreated with its set's current spec", {
      runnerSet: set.name,
      pod: view.name,
      from: view.specHash,
      to: hash,
      result: created.result,
    });
    return created.result === "created" ? viewPod(created.pod) : undefined;
  }

  /** The stale gauge, and a log line when a set's stale counts change. */
  report(set: RunnerSet, plan: RolloutPlan, current: string): void {
    const { metrics, log } = this.#options;
    for (const [phase, count] of Object.entries(plan.stale)) {
      metrics.runnersStale.set({ runner_set: set.name, phase }, count);
    }
    const key = JSON.stringify(plan.stale);
    if (this.#reported.get(set.name) === key) return;
    const first = !this.#reported.has(set.name);
    this.#reported.set(set.name, key);
    const total = plan.stale.queued + plan.stale.idle + plan.stale.busy;
    if (first && total === 0) return;
    log.info(
      total === 0 ? "every runner Pod of the set has its current spec" : "runner Pods with an outdated spec",
      { runnerSet: set.name, specHash: current, ...plan.stale },
    );
  }
}
