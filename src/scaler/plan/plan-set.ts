// Pure: what a runner set needs next — releases, warm runners, deletions — from the views of its Pods. The
// reconciler acts on the plan; nothing here reads a clock or talks to a server.
import { chooseReleases, type Fairness } from "./fair-release.ts";
import type { PodState, RunnerPodView } from "./pod-view.ts";

export interface SetPlan {
  /** Finished Pods to delete (with their Secrets). */
  finished: RunnerPodView[];
  /** Tombstones old enough to delete. */
  expiredTombstones: RunnerPodView[];
  /** Released Pods that never reached Running before the deadline. */
  stuck: RunnerPodView[];
  /** Gated Pods to release now: oldest first, or round-robin across repositories (see fairness). */
  release: RunnerPodView[];
  /** Warm Pods to create. */
  warmToCreate: number;
  /** Pods beyond what the set needs, cheapest to remove first (gated before released). */
  surplus: RunnerPodView[];
  counts: Record<PodState, number>;
}

export interface PlanInput {
  views: readonly RunnerPodView[];
  maxRunners: number;
  minIdle: number;
  now: Date;
  tombstoneTtlMs: number;
  pendingDeadlineMs: number;
  /** An idle runner is only surplus after this long: its job's in_progress event may still be on the way. */
  idleGraceMs: number;
  /** False while the set is backing off after repeated failures. */
  mayRelease: boolean;
  /** How free slots are shared across repositories; oldest first (fifo) when omitted. */
  fairness?: Fairness | undefined;
}

// Names are DNS labels (ASCII): compared by code unit, which is all a tie-break needs and much cheaper than
// localeCompare over thousands of Pods created in the same second.
const byAge = (a: RunnerPodView, b: RunnerPodView) =>
  a.createdAtMs - b.createdAtMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * GitHub does not bind a JIT runner to a job: any idle runner with matching labels takes any queued job.
 * So a set is planned on counts: runners wanted = jobs still waiting + minIdle; runners offered = idle
 * runners + gated Pods. Releases fill free slots up to maxRunners: oldest first, or when the backlog is larger
 * than the free slots, round-robin across repositories (fair-release.ts).
 */
export function planSet(input: PlanInput): SetPlan {
  const { views, now } = input;
  const counts: Record<PodState, number> = {
    queued: 0,
    tombstone: 0,
    idle: 0,
    busy: 0,
    finished: 0,
    terminating: 0,
  };
  for (const view of views) counts[view.state]++;

  const finished = views.filter((view) => view.state === "finished");
  const expiredTombstones = views.filter(
    (view) => view.state === "tombstone" && now.getTime() - view.createdAtMs >= input.tombstoneTtlMs,
  );
  const stuck = views.filter(
    (view) =>
      (view.state === "idle" || view.state === "busy") &&
      !view.running &&
      view.releasedAtMs !== undefined &&
      now.getTime() - view.releasedAtMs >= input.pendingDeadlineMs,
  );
  const stuckNames = new Set(stuck.map((view) => view.name));

  // A job still waiting for a runner: its own Pod exists and neither in_progress nor completed came.
  let waitingJobs = 0;
  let active = 0;
  // Released job Pods per repository: what each repository already has, for the fair share of the free slots.
  const released = new Map<string, number>();
  for (const view of views) {
    if (
      view.kind === "job" &&
      view.jobState === undefined &&
      view.state !== "finished" &&
      view.state !== "terminating"
    ) {
      waitingJobs++;
    }
    if ((view.state === "idle" || view.state === "busy") && !stuckNames.has(view.name)) {
      active++;
      if (view.repository !== undefined)
        released.set(view.repository, (released.get(view.repository) ?? 0) + 1);
    }
  }
  // Put in FIFO order only when something is taken from the front: with every slot full, a pass over a backlog
  // of 10,000 jobs sorts nothing.
  const queued = views.filter((view) => view.state === "queued");
  let sorted = false;
  const queuedByAge = () => {
    if (!sorted) queued.sort(byAge);
    sorted = true;
    return queued;
  };
  const idle = views.filter((view) => view.state === "idle" && !stuckNames.has(view.name));

  const wanted = waitingJobs + input.minIdle;
  const offered = idle.length + queued.length;

  let warmToCreate = 0;
  const surplus: RunnerPodView[] = [];
  if (wanted > offered) {
    // Never create more than could run.
    warmToCreate = Math.max(0, Math.min(wanted - offered, input.maxRunners - active - queued.length));
  } else if (offered > wanted) {
    let extra = offered - wanted;
    // Cheapest first: gated Pods that no waiting job needs (warm ones, or jobs another runner took),
    // then idle runners past the grace period, warm before job Pods, oldest first.
    const removableQueued = queuedByAge().filter(
      (view) => view.kind === "warm" || view.jobState === "started",
    );
    const removableIdle = idle
      .filter(
        (view) => view.releasedAtMs !== undefined && now.getTime() - view.releasedAtMs >= input.idleGraceMs,
      )
      .sort((a, b) => (a.kind === b.kind ? byAge(a, b) : a.kind === "warm" ? -1 : 1));
    for (const view of [...removableQueued, ...removableIdle]) {
      if (extra === 0) break;
      surplus.push(view);
      extra--;
    }
  }

  const slots = Math.max(0, input.maxRunners - active);
  let release: RunnerPodView[] = [];
  if (input.mayRelease && slots > 0) {
    const surplusNames = new Set(surplus.map((view) => view.name));
    const candidates =
      surplusNames.size === 0 ? queuedByAge() : queuedByAge().filter((view) => !surplusNames.has(view.name));
    release = chooseReleases(candidates, slots, released, input.fairness ?? { mode: "fifo" });
  }

  return { finished, expiredTombstones, stuck, release, warmToCreate, surplus, counts };
}
