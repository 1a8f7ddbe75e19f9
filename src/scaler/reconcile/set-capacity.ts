// A runner set's minIdle and maxRunners for this pass: its schedule's windows at the pass's instant, pre-warmed
// by a lead time — configured, or the runner start time measured here from the set's own Pods.
import type { RunnerSet } from "../config/load.ts";
import { durationMs } from "../model/duration.ts";
import {
  compileSchedule,
  type EffectiveCapacity,
  effectiveCapacity,
  type Schedule,
} from "../model/schedule.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { RunnerPodView } from "../plan/pod-view.ts";

/** Lead time before the scaler has measured a runner start: a Pod scheduled, image cached, runner connected. */
export const DEFAULT_LEAD_MS = 60_000;
/** The lead is the longest of this many latest start times: a slow start now and then still finds runners ready. */
const SAMPLES = 10;

interface SetState {
  schedule: Schedule;
  configuredLeadMs: number | undefined;
  /** Pods seen released (or warm) but not yet Running, by name → when their start began (ms). */
  starting: Map<string, number>;
  samples: number[];
  /** Names of the windows that applied on the last pass, to log a change once. */
  applied: string;
}

export class SetCapacity {
  readonly #sets = new Map<string, SetState>();
  readonly #metrics: Metrics;
  readonly #log: Logger;

  constructor(runnerSets: readonly RunnerSet[], metrics: Metrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log;
    for (const set of runnerSets) {
      this.#sets.set(set.name, {
        schedule: compileSchedule(set.schedules),
        configuredLeadMs: set.scheduleLeadTime === undefined ? undefined : durationMs(set.scheduleLeadTime),
        starting: new Map(),
        samples: [],
        applied: "",
      });
    }
  }

  /**
   * Measures runner start times: a warm Pod from its creation, a job Pod from its release, to the first pass
   * that sees it Running. Only Pods seen starting are measured, so a new leader doesn't count old runners.
   */
  observe(set: RunnerSet, views: readonly RunnerPodView[], nowMs: number): void {
    const state = this.#sets.get(set.name);
    if (state === undefined) return;
    const starting = new Map<string, number>();
    for (const view of views) {
      if (
        view.state !== "idle" &&
        view.state !== "busy" &&
        !(view.kind === "warm" && view.state === "queued")
      )
        continue;
      const since = view.kind === "warm" ? view.createdAtMs : view.releasedAtMs;
      if (since === undefined) continue;
      if (!view.running) starting.set(view.name, since);
      else if (state.starting.has(view.name)) {
        state.samples.push(Math.max(0, nowMs - since));
        if (state.samples.length > SAMPLES) state.samples.shift();
      }
    }
    state.starting = starting;
  }

  /** The lead time of the set's windows: configured, else the longest recent start, else DEFAULT_LEAD_MS. */
  leadMs(setName: string): number {
    const state = this.#sets.get(setName);
    if (state?.configuredLeadMs !== undefined) return state.configuredLeadMs;
    return state && state.samples.length > 0 ? Math.max(...state.samples) : DEFAULT_LEAD_MS;
  }

  /** The set's values at `now`; also exported as metrics, and a change of windows is logged. */
  at(set: RunnerSet, now: Date): EffectiveCapacity & { changesAtMs: number } {
    const state = this.#sets.get(set.name);
    const plain = { minIdle: set.minIdle, maxRunners: set.maxRunners };
    if (state === undefined || state.schedule.windows.length === 0)
      return { ...plain, windows: [], changesAtMs: Number.POSITIVE_INFINITY };
    const leadMs = this.leadMs(set.name);
    const effective = effectiveCapacity(plain, state.schedule, now, leadMs);
    const metrics = this.#metrics;
    const open = new Set(effective.windows.map((window) => window.name));
    for (const window of state.schedule.windows) {
      metrics.scheduleWindowActive.set(
        { runner_set: set.name, window: window.name },
        open.has(window.name) ? 1 : 0,
      );
    }
    metrics.effectiveCapacity.set({ runner_set: set.name, value: "minIdle" }, effective.minIdle);
    metrics.effectiveCapacity.set({ runner_set: set.name, value: "maxRunners" }, effective.maxRunners);
    metrics.scheduleLeadSeconds.set({ runner_set: set.name }, leadMs / 1000);
    const applied = effective.windows.map((window) => `${window.name}:${window.phase}`).join(",");
    if (applied !== state.applied) {
      state.applied = applied;
      this.#log.info("schedule windows changed", {
        runnerSet: set.name,
        windows: applied || "none",
        minIdle: effective.minIdle,
        maxRunners: effective.maxRunners,
        leadMs,
      });
    }
    return effective;
  }
}
