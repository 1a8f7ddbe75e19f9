// Pure: a runner set's capacity at an instant, from its schedule windows. A window opens at each activation of
// its cron expression (read in its time zone, daylight saving time included) and stays open for its duration;
// while open it sets minIdle (and maxRunners when it names one). Overlapping windows take the highest of each;
// outside every window the set's plain values apply. The caller passes the instant: nothing here reads a clock.
// croner (a maintained cron library) finds the activations; this module only decides what they mean.
import { Cron } from "croner";
import { durationMs } from "./duration.ts";

export interface ScheduleWindow {
  /** Names the window in metrics and logs; `schedules[i]` when omitted. */
  name?: string | undefined;
  cron: string;
  /** How long the window stays open after each activation, e.g. 10h. */
  duration: string;
  /** IANA time zone the cron expression is read in, e.g. Europe/Berlin. */
  timeZone: string;
  minIdle: number;
  maxRunners?: number | undefined;
}

export interface Capacity {
  minIdle: number;
  maxRunners: number;
}

export interface OpenWindow {
  name: string;
  /** prewarm: within the lead time before its start; open: between its start and its end. */
  phase: "prewarm" | "open";
  startsAtMs: number;
  endsAtMs: number;
}

export interface EffectiveCapacity extends Capacity {
  /** The windows that apply now (in their lead time or open), in configuration order. */
  windows: OpenWindow[];
}

interface CompiledWindow {
  name: string;
  cron: Cron;
  durationMs: number;
  minIdle: number;
  maxRunners: number | undefined;
}

/** A set's windows, parsed once. Build it from a validated configuration: a bad window throws. */
export interface Schedule {
  readonly windows: readonly CompiledWindow[];
}

export const windowName = (window: Pick<ScheduleWindow, "name">, index: number) =>
  window.name ?? `schedules[${index}]`;

function cronOf(cron: string, timeZone: string): Cron {
  // No function: croner only computes dates and never starts a timer.
  return new Cron(cron, { timezone: timeZone, paused: true });
}

export function compileSchedule(windows: readonly ScheduleWindow[] | undefined): Schedule {
  return {
    windows: (windows ?? []).map((window, index) => {
      const ms = durationMs(window.duration);
      if (ms === undefined)
        throw new Error(`schedules[${index}].duration: not a duration: ${window.duration}`);
      return {
        name: windowName(window, index),
        cron: cronOf(window.cron, window.timeZone),
        durationMs: ms,
        minIdle: window.minIdle,
        maxRunners: window.maxRunners,
      };
    }),
  };
}

/**
 * The window's state at `atMs`: open when its latest activation at or before `atMs` is less than its duration
 * ago; prewarm when its next activation is at most `leadMs` away. Activations are instants (croner resolves a
 * local time that DST skips to the first valid time after the gap, and a repeated one to its first occurrence),
 * so a 10h window on a 23-hour or 25-hour day is still 10 hours long. `changesAtMs`: when the window next starts
 * or stops applying.
 */
function stateOf(
  window: CompiledWindow,
  atMs: number,
  leadMs: number,
): { state: OpenWindow | undefined; changesAtMs: number } {
  // previousRuns is exclusive of its reference and works in whole seconds: a reference one second on includes
  // an activation at exactly atMs.
  const [previous] = window.cron.previousRuns(1, new Date(atMs + 1000));
  const next = window.cron.nextRun(new Date(atMs))?.getTime();
  const span = (startsAtMs: number, phase: OpenWindow["phase"]): OpenWindow => ({
    name: window.name,
    phase,
    startsAtMs,
    endsAtMs: startsAtMs + window.durationMs,
  });
  // Open now, or in the lead time of the next start: either way it applies until its end.
  let state: OpenWindow | undefined;
  if (previous !== undefined && previous.getTime() <= atMs && atMs < previous.getTime() + window.durationMs)
    state = span(previous.getTime(), "open");
  else if (next !== undefined && next - leadMs <= atMs) state = span(next, "prewarm");
  if (state !== undefined) return { state, changesAtMs: state.endsAtMs };
  return { state, changesAtMs: next === undefined ? Number.POSITIVE_INFINITY : next - leadMs };
}

/**
 * minIdle and maxRunners at `at`. A window applies from `leadMs` before each start, so warm runners are ready
 * when it opens; overlapping windows take the highest of each value; minIdle never exceeds maxRunners.
 * `changesAtMs` is the next instant a window starts or stops applying (Infinity when none will).
 */
export function effectiveCapacity(
  plain: Capacity,
  schedule: Schedule,
  at: Date,
  leadMs = 0,
): EffectiveCapacity & { changesAtMs: number } {
  const atMs = at.getTime();
  const windows: OpenWindow[] = [];
  let minIdle = -1;
  let maxRunners = -1;
  let changesAtMs = Number.POSITIVE_INFINITY;
  for (const window of schedule.windows) {
    const { state, changesAtMs: changes } = stateOf(window, atMs, leadMs);
    changesAtMs = Math.min(changesAtMs, changes);
    if (state === undefined) continue;
    windows.push(state);
    minIdle = Math.max(minIdle, window.minIdle);
    maxRunners = Math.max(maxRunners, window.maxRunners ?? plain.maxRunners);
  }
  if (windows.length === 0) return { ...plain, windows, changesAtMs };
  return { minIdle: Math.min(minIdle, maxRunners), maxRunners, windows, changesAtMs };
}

/** The next `count` activations of a window after `from` (check-config prints them). */
export function nextActivations(window: ScheduleWindow, from: Date, count: number): Date[] {
  return cronOf(window.cron, window.timeZone).nextRuns(count, from);
}

/** Why a time zone name can't be used, or undefined when it can. */
export function timeZoneProblem(timeZone: string): string | undefined {
  try {
    new Intl.DateTimeFormat("en", { timeZone });
    return undefined;
  } catch {
    return `expected an IANA time zone such as Europe/Berlin, America/New_York or UTC, got ${JSON.stringify(timeZone)}`;
  }
}

/** Why a cron expression can't be used (croner's reason), or undefined when it can. */
export function cronProblem(cron: string, timeZone = "UTC"): string | undefined {
  const shape = `a cron expression (minute hour day-of-month month day-of-week, e.g. "0 8 * * 1-5")`;
  let parsed: Cron;
  try {
    parsed = cronOf(cron, timeZone);
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^CronPattern: /, "") : String(error);
    return `expected ${shape}, got ${JSON.stringify(cron)}: ${reason}`;
  }
  // From a fixed instant, not a clock: an expression such as "0 0 30 2 *" (30 February) never activates at all.
  if (parsed.nextRun(new Date(0)) === null)
    return `expected ${shape} that activates, got ${JSON.stringify(cron)}: it never does`;
  return undefined;
}
