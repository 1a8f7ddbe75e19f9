// What check-config prints about a valid configuration: its runner sets, and each schedule window's next
// activations in its own time zone and in UTC. Pure.
import { nextActivations, windowName } from "../model/schedule.ts";
import type { Config } from "./schema.ts";

/** A time as read in a time zone: "2026-06-11 08:00 GMT+2". */
function localTime(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "shortOffset",
  }).formatToParts(date);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")} ${part("timeZoneName")}`;
}

/** Each schedule window with its next three activations, in its own time zone and in UTC. */
export function describeSchedules(config: Config, now: Date): string {
  const lines: string[] = [];
  for (const set of config.runnerSets) {
    (set.schedules ?? []).forEach((window, index) => {
      const values = `minIdle ${window.minIdle}${window.maxRunners === undefined ? "" : `, maxRunners ${window.maxRunners}`}`;
      lines.push(
        `${set.name}: window ${windowName(window, index)} (${JSON.stringify(window.cron)} in ${window.timeZone}, open ${window.duration}): ${values}`,
      );
      const next = nextActivations(window, now, 3);
      if (next.length === 0) lines.push("  no activation after now");
      for (const date of next) {
        lines.push(`  opens ${localTime(date, window.timeZone)} (${date.toISOString().slice(0, 16)}Z)`);
      }
    });
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** One line: how many sets, and each one's labels, profile and limits. */
export function describeSets(config: Config): string {
  const count = config.runnerSets.length === 1 ? "1 runner set" : `${config.runnerSets.length} runner sets`;
  const sets = config.runnerSets.map(
    (set) =>
      `${set.name} (labels ${set.labels.join(", ")}; ${set.runtime.profile}; maxRunners ${set.maxRunners}, minIdle ${set.minIdle})`,
  );
  return `${count}: ${sets.join("; ")}`;
}
