// Durations as people write them in the configuration: 90s, 45m, 10h, 1h30m, 2d. One definition of the shape:
// config validation and the schedule share it.

/**
 * Days, hours, minutes and seconds, largest first, each at most once, at least one. Also the chart's JSON schema
 * pattern, which helm checks with Go's regexp (RE2): no lookaround, so "at least one" is spelled out.
 */
export const DURATION_PATTERN =
  /^(?:\d+d(?:\d+h)?(?:\d+m)?(?:\d+s)?|\d+h(?:\d+m)?(?:\d+s)?|\d+m(?:\d+s)?|\d+s)$/;
const DURATION_PARTS = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

const UNIT_MS = [86_400_000, 3_600_000, 60_000, 1_000] as const;

/** Milliseconds of a duration such as 1h30m; undefined when the text isn't one. */
export function durationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.test(text) ? DURATION_PARTS.exec(text) : null;
  if (!match) return undefined;
  let total = 0;
  for (let i = 0; i < UNIT_MS.length; i++) total += Number(match[i + 1] ?? 0) * UNIT_MS[i]!;
  return total;
}

/** 5400000 → "1h30m": how a measured duration is shown next to configured ones. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000);
  if (rest === 0) return "0s";
  let text = "";
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}
