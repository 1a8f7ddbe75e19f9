// Pure: which runner Pods of a set were made with another spec than the set produces now (their spec hash
// differs), and what to do about each. A queued Pod is recreated just before its release (reconcile/rollout.ts),
// so a backlog is refreshed at the pace it drains and keeps its order; an idle warm runner is replaced; a busy
// runner finishes its job on the spec it has.
import type { RunnerPodView } from "./pod-view.ts";

export interface RolloutPlan {
  /** Stale Pods that are still to run or running, by state. */
  stale: { queued: number; idle: number; busy: number };
  /** Idle warm runners to deregister and delete; minIdle brings fresh ones. */
  replace: RunnerPodView[];
}

/** A Pod made with another spec than `current` (a Pod without a hash predates hashes: stale too). */
export function isStale(view: RunnerPodView, current: string): boolean {
  return view.specHash !== current;
}

/** `skip`: Pods another step already removes this pass (the plan's surplus, stuck Pods). */
export function planRollout(
  views: readonly RunnerPodView[],
  current: string,
  skip: ReadonlySet<string>,
): RolloutPlan {
  const stale = { queued: 0, idle: 0, busy: 0 };
  const replace: RunnerPodView[] = [];
  for (const view of views) {
    if (!isStale(view, current)) continue;
    if (view.state !== "queued" && view.state !== "idle" && view.state !== "busy") continue;
    stale[view.state]++;
    if (view.state === "idle" && view.kind === "warm" && !skip.has(view.name)) replace.push(view);
  }
  return { stale, replace };
}
