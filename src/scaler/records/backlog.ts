// The backlog bound of each runner set (maxQueued): how many queued job Pods a set has, read from the Pod cache
// (no LIST per webhook). A count over 10,000 cached Pods costs about a millisecond, so it is redone at most every
// RECOUNT_MS after the cache changed; creations since are counted as they happen, so a burst can't overshoot by
// more than what the cache hasn't shown yet.
import { maxQueuedOf, type RunnerSet } from "../config/schema.ts";
import type { RunnerPods } from "../kube/runner-pods.ts";
import { LABELS } from "../model/keys.ts";
import { viewPod } from "../plan/pod-view.ts";

const RECOUNT_MS = 100;

/** What the backlog reads of a runner set. */
type BoundedSet = Pick<RunnerSet, "name" | "maxQueued" | "maxRunners" | "schedules">;

export interface Backlog {
  /** Takes a place in the set's backlog for a job about to be recorded; false when the set is full. */
  reserve(set: BoundedSet): boolean;
  /** Gives the place back: the job's Pod was not created (a duplicate, or the write failed). */
  release(set: BoundedSet): void;
}

export function createBacklog(
  pods: Pick<RunnerPods, "cached" | "onChange">,
  now = () => performance.now(),
): Backlog {
  let counted = new Map<string, number>();
  let countedAt = Number.NEGATIVE_INFINITY;
  let changed = true;
  /** Places taken since the last count: creations the cache may not show yet. */
  let taken = new Map<string, number>();
  pods.onChange(() => {
    changed = true;
  });

  const recount = () => {
    const counts = new Map<string, number>();
    for (const pod of pods.cached()) {
      const view = viewPod(pod);
      if (view.kind !== "job" || view.state !== "queued") continue;
      const set = pod.metadata?.labels?.[LABELS.runnerSet];
      if (set) counts.set(set, (counts.get(set) ?? 0) + 1);
    }
    counted = counts;
    countedAt = now();
    changed = false;
    taken = new Map();
  };

  return {
    reserve(set) {
      if (changed && now() - countedAt >= RECOUNT_MS) recount();
      const queued = (counted.get(set.name) ?? 0) + (taken.get(set.name) ?? 0);
      if (queued >= maxQueuedOf(set)) return false;
      taken.set(set.name, (taken.get(set.name) ?? 0) + 1);
      return true;
    },
    release(set) {
      const places = taken.get(set.name) ?? 0;
      if (places > 0) taken.set(set.name, places - 1);
    },
  };
}
