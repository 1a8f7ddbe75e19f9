import { describe, expect, it } from "vitest";
import { durationMs, formatDuration } from "../../../src/scaler/model/duration.ts";
import {
  compileSchedule,
  cronProblem,
  effectiveCapacity,
  nextActivations,
  type ScheduleWindow,
  timeZoneProblem,
} from "../../../src/scaler/model/schedule.ts";

const PLAIN = { minIdle: 1, maxRunners: 10 };
const at = (iso: string) => new Date(iso);

function capacity(windows: ScheduleWindow[], iso: string, leadMs = 0) {
  return effectiveCapacity(PLAIN, compileSchedule(windows), at(iso), leadMs);
}

const workingHours: ScheduleWindow = {
  name: "working-hours",
  cron: "0 8 * * 1-5",
  duration: "10h",
  timeZone: "Europe/Berlin",
  minIdle: 5,
};

describe("effectiveCapacity: one window in a time zone", () => {
  // 2026-06-10 is a Wednesday; Berlin is UTC+2 (CEST) in June.
  it.each([
    ["2026-06-10T05:59:59Z", 1, "07:59:59 Berlin: before the window, the plain minIdle"],
    ["2026-06-10T06:00:00Z", 5, "08:00 Berlin: the window opens at its activation, inclusive"],
    ["2026-06-10T15:59:59Z", 5, "17:59:59 Berlin: still open"],
    ["2026-06-10T16:00:00Z", 1, "18:00 Berlin: closed after its 10h, exclusive"],
    ["2026-06-13T09:00:00Z", 1, "Saturday 11:00 Berlin: no activation on weekends"],
  ])("%s → minIdle %i (%s)", (iso, minIdle) => {
    const result = capacity([workingHours], iso);
    expect(result.minIdle).toBe(minIdle);
    expect(result.maxRunners).toBe(10);
    expect(result.windows.map((w) => w.name)).toEqual(minIdle === 5 ? ["working-hours"] : []);
  });

  it("reads the cron expression in the window's time zone, not UTC and not the machine's", () => {
    const window = { ...workingHours, timeZone: "America/New_York" }; // UTC-4 in June
    expect(capacity([window], "2026-06-10T06:00:00Z").minIdle).toBe(1); // 02:00 in New York
    expect(capacity([window], "2026-06-10T12:00:00Z").minIdle).toBe(5); // 08:00 in New York
    const tokyo = { ...workingHours, timeZone: "Asia/Tokyo" }; // UTC+9, no DST
    expect(capacity([tokyo], "2026-06-09T23:00:00Z").minIdle).toBe(5); // Wednesday 08:00 in Tokyo
    expect(capacity([tokyo], "2026-06-09T22:59:00Z").minIdle).toBe(1);
  });

  it("reports the window's phase, start and end", () => {
    const result = capacity([workingHours], "2026-06-10T07:00:00Z");
    expect(result.windows).toEqual([
      {
        name: "working-hours",
        phase: "open",
        startsAtMs: Date.parse("2026-06-10T06:00:00Z"),
        endsAtMs: Date.parse("2026-06-10T16:00:00Z"),
      },
    ]);
  });

  it("names an unnamed window by its place in the list", () => {
    const { name: _, ...unnamed } = workingHours;
    expect(capacity([PLAIN_WINDOW, unnamed], "2026-06-10T07:00:00Z").windows.map((w) => w.name)).toEqual([
      "schedules[1]",
    ]);
  });
});

const PLAIN_WINDOW: ScheduleWindow = {
  cron: "0 0 1 1 *",
  duration: "1h",
  timeZone: "UTC",
  minIdle: 0,
};

describe("effectiveCapacity across a daylight saving time change (Europe/Berlin, 2026)", () => {
  const daily = { ...workingHours, cron: "0 8 * * *" };
  // Clocks go forward on Sunday 29 March (02:00 CET → 03:00 CEST) and back on Sunday 25 October (03:00 CEST →
  // 02:00 CET): 08:00 local is 07:00 UTC before the spring change and after the autumn one, 06:00 UTC between.
  it.each([
    ["2026-03-28T06:59:00Z", 1, "Saturday 07:59 CET"],
    ["2026-03-28T07:00:00Z", 5, "Saturday 08:00 CET"],
    ["2026-03-29T05:59:00Z", 1, "Sunday 07:59 CEST, the first day of summer time"],
    ["2026-03-29T06:00:00Z", 5, "Sunday 08:00 CEST: an hour earlier in UTC"],
    ["2026-03-29T15:59:00Z", 5, "Sunday 17:59 CEST: still 10 hours"],
    ["2026-03-29T16:00:00Z", 1, "Sunday 18:00 CEST"],
    ["2026-10-24T06:00:00Z", 5, "Saturday 08:00 CEST, the last day of summer time"],
    ["2026-10-25T06:00:00Z", 1, "Sunday 07:00 CET: would be 08:00 in summer time"],
    ["2026-10-25T07:00:00Z", 5, "Sunday 08:00 CET: an hour later in UTC"],
    ["2026-10-25T16:59:00Z", 5, "Sunday 17:59 CET"],
    ["2026-10-25T17:00:00Z", 1, "Sunday 18:00 CET"],
  ])("%s → minIdle %i (%s)", (iso, minIdle) => {
    expect(capacity([daily], iso).minIdle).toBe(minIdle);
  });

  it("a local time the spring change skips opens at the first valid time after the gap", () => {
    const nightly = { ...daily, cron: "30 2 * * *", duration: "1h" };
    // 02:30 does not exist on 29 March: croner runs it at 03:00 CEST (01:00 UTC), on the same day.
    expect(nextActivations(nightly, at("2026-03-28T12:00:00Z"), 2).map((d) => d.toISOString())).toEqual([
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
    ]);
    expect(capacity([nightly], "2026-03-29T00:59:00Z").minIdle).toBe(1);
    expect(capacity([nightly], "2026-03-29T01:00:00Z").minIdle).toBe(5);
    expect(capacity([nightly], "2026-03-29T01:59:00Z").minIdle).toBe(5);
    expect(capacity([nightly], "2026-03-29T02:00:00Z").minIdle).toBe(1);
  });

  it("a local time the autumn change repeats opens once, at its first occurrence", () => {
    const nightly = { ...daily, cron: "30 2 * * *", duration: "30m" };
    // 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET) on 25 October.
    expect(nextActivations(nightly, at("2026-10-24T12:00:00Z"), 2).map((d) => d.toISOString())).toEqual([
      "2026-10-25T00:30:00.000Z",
      "2026-10-26T01:30:00.000Z",
    ]);
    expect(capacity([nightly], "2026-10-25T00:45:00Z").minIdle).toBe(5);
    expect(capacity([nightly], "2026-10-25T01:45:00Z").minIdle).toBe(1);
  });
});

describe("effectiveCapacity: overlapping windows take the highest", () => {
  const evening: ScheduleWindow = {
    name: "release-crunch",
    cron: "0 16 * * 3",
    duration: "4h",
    timeZone: "Europe/Berlin",
    minIdle: 3,
    maxRunners: 30,
  };
  it.each([
    ["2026-06-10T07:00:00Z", { minIdle: 5, maxRunners: 10 }, ["working-hours"]],
    // Wednesday 16:00–18:00 Berlin: both open; minIdle from one, maxRunners from the other.
    ["2026-06-10T14:30:00Z", { minIdle: 5, maxRunners: 30 }, ["working-hours", "release-crunch"]],
    ["2026-06-10T17:00:00Z", { minIdle: 3, maxRunners: 30 }, ["release-crunch"]],
    ["2026-06-10T18:00:00Z", { minIdle: 1, maxRunners: 10 }, []],
  ])("%s → %o", (iso, values, names) => {
    const result = capacity([workingHours, evening], iso);
    expect({ minIdle: result.minIdle, maxRunners: result.maxRunners }).toEqual(values);
    expect(result.windows.map((w) => w.name)).toEqual(names);
  });

  it("a window may set a lower minIdle than the plain one (nights without warm runners)", () => {
    const night = { ...PLAIN_WINDOW, cron: "0 20 * * *", duration: "12h", minIdle: 0 };
    expect(capacity([night], "2026-06-10T23:00:00Z").minIdle).toBe(0);
    expect(capacity([night], "2026-06-10T12:00:00Z").minIdle).toBe(1);
  });

  it("minIdle never exceeds the window's maxRunners", () => {
    const small = { ...workingHours, minIdle: 8, maxRunners: 4 };
    expect(capacity([small], "2026-06-10T07:00:00Z")).toMatchObject({ minIdle: 4, maxRunners: 4 });
  });

  it("a window longer than its period stays open across activations", () => {
    const hourly = { ...PLAIN_WINDOW, cron: "0 * * * *", duration: "90m", minIdle: 2 };
    expect(capacity([hourly], "2026-06-10T07:59:59Z").windows[0]?.startsAtMs).toBe(
      Date.parse("2026-06-10T07:00:00Z"),
    );
  });
});

describe("effectiveCapacity: the lead time pre-warms a window", () => {
  const lead = 90_000;
  it.each([
    ["2026-06-10T05:58:29Z", 1, undefined],
    ["2026-06-10T05:58:30Z", 5, "prewarm"],
    ["2026-06-10T05:59:59Z", 5, "prewarm"],
    ["2026-06-10T06:00:00Z", 5, "open"],
    ["2026-06-10T16:00:00Z", 1, undefined],
  ])("%s → minIdle %i (%s)", (iso, minIdle, phase) => {
    const result = capacity([workingHours], iso, lead);
    expect(result.minIdle).toBe(minIdle);
    expect(result.windows[0]?.phase).toBe(phase);
  });

  it("says when the values next change: the next start less the lead, or the end", () => {
    expect(capacity([workingHours], "2026-06-10T05:00:00Z", lead).changesAtMs).toBe(
      Date.parse("2026-06-10T05:58:30Z"),
    );
    expect(capacity([workingHours], "2026-06-10T07:00:00Z", lead).changesAtMs).toBe(
      Date.parse("2026-06-10T16:00:00Z"),
    );
    expect(capacity([], "2026-06-10T07:00:00Z", lead).changesAtMs).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("validation helpers", () => {
  it.each([
    ["0 8 * * 1-5", undefined],
    ["@daily", undefined],
    ["61 8 * * *", /expected a cron expression .*got "61 8 \* \* \*": Invalid value for minute: 61/],
    ["every morning", /expected a cron expression/],
    ["0 0 30 2 *", /never does/],
  ])("cronProblem(%j)", (cron, problem) => {
    if (problem === undefined) expect(cronProblem(cron)).toBeUndefined();
    else expect(cronProblem(cron)).toMatch(problem);
  });

  it.each([
    ["Europe/Berlin", undefined],
    ["UTC", undefined],
    [
      "Mars/Olympus_Mons",
      'expected an IANA time zone such as Europe/Berlin, America/New_York or UTC, got "Mars/Olympus_Mons"',
    ],
  ])("timeZoneProblem(%j)", (zone, problem) => {
    expect(timeZoneProblem(zone)).toBe(problem);
  });

  it.each([
    ["10h", 36_000_000],
    ["1h30m", 5_400_000],
    ["90s", 90_000],
    ["2d", 172_800_000],
    ["1d2h3m4s", 93_784_000],
    ["", undefined],
    ["h", undefined],
    ["30m1h", undefined],
    ["1.5h", undefined],
  ])("durationMs(%j) = %s", (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it("formatDuration writes what durationMs reads", () => {
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(1_400)).toBe("1s");
    expect(formatDuration(0)).toBe("0s");
    expect(durationMs(formatDuration(93_784_000))).toBe(93_784_000);
  });
});
