// Turns the benchmarks' one-line results into one table (measure, baseline from the same run, ratio,
// target, met?), a JSON file and an SVG chart under bench/results/.

/** `name: key=value key=value` → { name, values }. */
export function parseLine(line: string): { name: string; values: Record<string, number> } | undefined {
  const match = /^([a-z_-]+):\s+(.*)$/.exec(line.trim());
  if (!match) return undefined;
  const values: Record<string, number> = {};
  for (const pair of match[2]!.split(/\s+/)) {
    const [key, raw] = pair.split("=");
    // `n/of` (e.g. valid_recorded=200/200): n as the key, the whole as key_of.
    const fraction = raw === undefined ? null : /^(\d+)\/(\d+)$/.exec(raw);
    if (key && fraction) {
      values[key] = Number(fraction[1]);
      values[`${key}_of`] = Number(fraction[2]);
    } else if (key && raw !== undefined && raw !== "" && !Number.isNaN(Number(raw)))
      values[key] = Number(raw);
  }
  return { name: match[1]!, values };
}

export interface Row {
  bench: string;
  measure: string;
  value: number;
  unit: string;
  /** The baseline measured in the same run, if the measure is a comparison. */
  baseline?: { label: string; value: number };
  /** value / baseline, or the value itself for absolute targets. */
  ratio?: number;
  target: string;
  met: boolean;
  /**
   * The measure as a multiple of its target's limit, so every row is drawn on one scale: ≤ 1 meets a "≤" target,
   * 0 meets a "0" target. Rows without it are drawn from ratio or value against the first number of target.
   */
  toTarget?: number;
}

type RowSpec = (values: Record<string, number>) => Row[];

const has = (values: Record<string, number>, ...keys: string[]) => keys.every((key) => key in values);

/** What each benchmark's numbers mean, and the targets of ../shared/DESIGN.md and the issues. */
const SPECS: Record<string, RowSpec> = {
  "action-ready": (v) =>
    has(v, "median_ms", "loop_median_ms", "step_ms")
      ? [
          {
            bench: "action",
            measure: "ready daemon detected (median)",
            value: v.median_ms!,
            unit: "ms",
            baseline: { label: "until docker info; sleep 1 loop", value: v.loop_median_ms! },
            ratio: v.median_ms! / v.loop_median_ms!,
            target: "≤ 50 ms and ≤ 0.1× loop",
            met: v.median_ms! <= 50 && v.median_ms! / v.loop_median_ms! <= 0.1,
            toTarget: Math.max(v.median_ms! / 50, v.median_ms! / v.loop_median_ms! / 0.1),
          },
          {
            bench: "action",
            measure: "whole step, daemon already up",
            value: v.step_ms!,
            unit: "ms",
            target: "≤ 300 ms",
            met: v.step_ms! <= 300,
          },
        ]
      : [],
  intake: (v) =>
    has(v, "p99_ms", "bare_p99_ms")
      ? [
          {
            bench: "intake",
            measure:
              v.server_p99_ms !== undefined
                ? `webhook → durable record p99 (p50 ${v.p50_ms} ms; inside the scaler p99 ${v.server_p99_ms} ms, ${v.server_ratio}×)`
                : `webhook → durable record p99 (p50 ${v.p50_ms} ms)`,
            value: v.p99_ms!,
            unit: "ms",
            baseline: { label: "bare create p99, same ServiceAccount and client", value: v.bare_p99_ms! },
            ratio: v.p99_ms! / v.bare_p99_ms!,
            target: "≤ 1.3× bare",
            met: v.p99_ms! / v.bare_p99_ms! <= 1.3,
          },
        ]
      : [],
  burst: (v) =>
    has(v, "recorded_s", "bare_s", "github_calls_per_job")
      ? [
          {
            bench: "burst",
            measure: `${v.jobs} queued jobs at once, all recorded`,
            value: v.recorded_s!,
            unit: "s",
            baseline: { label: "same number of bare creates", value: v.bare_s! },
            ratio: v.recorded_s! / v.bare_s!,
            target: "≤ 10 s",
            met: v.recorded_s! <= 10,
          },
          {
            bench: "burst",
            measure: "GitHub calls per job (stand-in at 200 ms/call)",
            value: v.github_calls_per_job!,
            unit: "calls",
            target: "≤ 2",
            met: v.github_calls_per_job! <= 2,
          },
        ]
      : [],
  poll: (v) =>
    has(v, "interval_s", "p99_pickup_s", "github_calls_per_job")
      ? [
          {
            bench: "poll",
            measure: `${v.jobs} jobs from the delivery log, recorded → gated Pod p99 (p50 ${v.p50_pickup_s} s)`,
            value: v.p99_pickup_s!,
            unit: "s",
            baseline: { label: "poll interval", value: v.interval_s! },
            ratio: v.p99_pickup_s! / v.interval_s!,
            target: "≤ interval + 1 s",
            met: v.p99_pickup_s! <= v.interval_s! + 1,
          },
          {
            bench: "poll",
            measure: "GitHub calls per job, log pages and bodies included (stand-in at 100 ms/call)",
            value: v.github_calls_per_job!,
            unit: "calls",
            target: "≤ 2.5",
            met: v.github_calls_per_job! <= 2.5,
          },
        ]
      : [],
  scale: (v) =>
    has(v, "cost_100", "cost_10000", "rss_mb")
      ? [
          v.relative_ratio !== undefined
            ? {
                bench: "scale",
                measure: `webhook cost with 10,000 Pods vs 100, each relative to bare creates interleaved with it (raw: ${v.cost_10000} vs ${v.cost_100} ms, ${v.ratio}×; a bare create: ${v.bare_100} → ${v.bare_10000} ms)`,
                value: v.cost_10000! / v.bare_10000!,
                unit: "× bare",
                baseline: { label: "with 100 Pods", value: v.cost_100! / v.bare_100! },
                ratio: v.relative_ratio!,
                target: "≤ 1.2× (flat)",
                met: v.relative_ratio! <= 1.2,
              }
            : {
                bench: "scale",
                measure: "webhook cost with 10,000 Pods",
                value: v.cost_10000!,
                unit: "ms",
                baseline: { label: "with 100 Pods", value: v.cost_100! },
                ratio: v.cost_10000! / v.cost_100!,
                target: "≤ 1.2× (flat)",
                met: v.cost_10000! / v.cost_100! <= 1.2,
              },
          {
            bench: "scale",
            measure: "scaler RSS with 10,000 Pods",
            value: v.rss_mb!,
            unit: "MB",
            // DESIGN.md's target with @kubernetes/client-node in the bundle (120 MB was for the own client it replaced).
            target: "≤ 140 MB",
            met: v.rss_mb! <= 140,
          },
        ]
      : [],
  chaos: (v) =>
    has(v, "lost", "two_runners", "released_after_done", "over_cap", "leaked", "re_registered", "unneeded")
      ? [
          {
            bench: "chaos",
            measure: `${v.jobs} jobs, drops, duplicates, reordering, kill -9 ×3 (converged in ${v.converge_s} s, ${v.github_calls_per_job} GitHub calls/job)`,
            value: v.lost! + v.two_runners! + v.released_after_done! + v.over_cap! + v.leaked!,
            unit: "lost, doubled, late, over cap or leaked",
            target: "0",
            met: v.lost! + v.two_runners! + v.released_after_done! + v.over_cap! + v.leaked! === 0,
          },
          {
            bench: "chaos",
            measure: `registrations beyond one per job, of ${v.jobs} jobs (besides ${v.interrupted} releases a kill -9 cut short)`,
            value: v.re_registered! + v.unneeded!,
            unit: "runners",
            target: "≤ 2 % of jobs",
            met: v.re_registered! + v.unneeded! <= Math.max(2, Math.floor(v.jobs! * 0.02)),
          },
        ]
      : [],
  abuse: (v) =>
    has(
      v,
      "valid_recorded",
      "valid_recorded_of",
      "hostile_writes",
      "series_before",
      "series_after",
      "rss_growth_mb",
    )
      ? [
          {
            bench: "abuse",
            measure: `valid deliveries recorded among ${v.hostile} hostile requests (${v.hostile_writes} Kubernetes writes from hostile ones)`,
            value: v.valid_recorded!,
            unit: `of ${v.valid_recorded_of}`,
            target: "all, and 0 hostile writes",
            met: v.valid_recorded === v.valid_recorded_of && v.hostile_writes === 0,
            // Counted failures: valid deliveries not recorded plus hostile writes; 0 meets the target.
            toTarget: v.valid_recorded_of! - v.valid_recorded! + v.hostile_writes!,
          },
          {
            bench: "abuse",
            measure: "/metrics series after the flood",
            value: v.series_after!,
            unit: "series",
            baseline: { label: "before the flood", value: v.series_before! },
            ratio: v.series_after! / v.series_before!,
            target: "unchanged",
            met: v.series_after === v.series_before,
            toTarget: v.series_after! / v.series_before!,
          },
          {
            bench: "abuse",
            measure: "scaler RSS growth over the flood (after a /metrics scrape)",
            value: v.rss_growth_mb!,
            unit: "MB",
            target: "≤ 20 MB",
            met: v.rss_growth_mb! <= 20,
          },
          ...(has(v, "p99_valid_ms", "p99_quiet_ms")
            ? [
                {
                  bench: "abuse",
                  measure: "valid delivery p99 during the flood",
                  value: v.p99_valid_ms!,
                  unit: "ms",
                  baseline: { label: "p99 without the flood", value: v.p99_quiet_ms! },
                  ratio: v.p99_valid_ms! / v.p99_quiet_ms!,
                  target: "≤ 3× quiet",
                  met: v.p99_valid_ms! / v.p99_quiet_ms! <= 3,
                },
              ]
            : []),
        ]
      : [],
  fairness: (v) =>
    has(v, "fifo_small_repo_p95_wait_s", "fair_small_repo_p95_wait_s")
      ? [
          {
            bench: "fairness",
            measure: `p95 wait of a repository's 10 jobs queued 1 s after another's 500 (maxRunners 20, 2 s jobs; real planner, simulated clock; planning 10,000 queued Pods: ${v.plan_ms_10000_fair} ms fair, ${v.plan_ms_10000_fifo} ms FIFO)`,
            value: v.fair_small_repo_p95_wait_s!,
            unit: "s",
            baseline: { label: "FIFO release", value: v.fifo_small_repo_p95_wait_s! },
            ratio: v.fair_small_repo_p95_wait_s! / v.fifo_small_repo_p95_wait_s!,
            target: "≤ 0.2× FIFO",
            met: v.fair_small_repo_p95_wait_s! / v.fifo_small_repo_p95_wait_s! <= 0.2,
          },
        ]
      : [],
  schedule: (v) =>
    has(v, "ready_at_start", "ready_at_start_of", "ready_s", "no_lead_ready_s")
      ? [
          {
            bench: "schedule",
            measure: `warm runners Running when a window raising minIdle to ${v.ready_at_start_of} opens, pre-warmed by the measured start time (lead ${v.lead_s} s; all ${v.ready_at_start_of} ready ${v.ready_s} s from the start; without the lead ${v.no_lead_ready_at_start} at the start, all ${v.no_lead_ready_s} s after)`,
            value: v.ready_at_start!,
            unit: `of ${v.ready_at_start_of}`,
            target: "all, at the start",
            met: v.ready_at_start === v.ready_at_start_of,
            // Warm runners missing at the start: 0 meets the target.
            toTarget: v.ready_at_start_of! - v.ready_at_start!,
          },
        ]
      : [],
  outage: (v) =>
    has(v, "lost", "sweep_s", "down_s")
      ? [
          {
            bench: "outage",
            measure: `${v.jobs} jobs queued while the scaler was unreachable for ${v.down_s} s: every job started on a runner, after the outage (sweep every ${v.sweep_s} s; ${v.lost} lost, ${v.redeliveries} redeliveries${v.log_reads === undefined ? "" : `, ${v.log_reads} delivery-log pages read`})`,
            value: v.recovered_s ?? Number.POSITIVE_INFINITY,
            unit: "s",
            target: `≤ ${v.sweep_s! + 10} s (sweep + 10 s), 0 lost`,
            // Below 0: the jobs started while the scaler was unreachable, so the run measured no recovery at all.
            met:
              v.lost === 0 &&
              v.leaked === 0 &&
              v.recovered_s !== undefined &&
              v.recovered_s >= 0 &&
              v.recovered_s <= v.sweep_s! + 10,
            toTarget: (v.recovered_s ?? Number.POSITIVE_INFINITY) / (v.sweep_s! + 10),
          },
        ]
      : [],
  apiserver_outage: (v) =>
    has(v, "acked_then_lost", "two_leaders", "down_s")
      ? [
          {
            bench: "apiserver-outage",
            measure: `${v.jobs} jobs, two replicas, the apiserver cut off from them for ${v.down_s} s mid-burst${v.restarted ? ", then restarted" : ""}: deliveries acknowledged then lost, and two leaders at once (${v.recovered_s === undefined ? "not every job started" : `every job started ${v.recovered_s} s after it was back`}; ${v.lost} lost, ${v.leaked} leaked${v.relists === undefined ? "" : `, ${v.relists} Pod-cache relists by ${v.replicas} replicas`})`,
            value: v.acked_then_lost! + v.two_leaders!,
            unit: "acked-lost+2-leaders",
            target: "0, ≤ 1 relist each",
            met:
              v.acked_then_lost === 0 &&
              v.two_leaders === 0 &&
              v.lost === 0 &&
              (v.relists === undefined || v.relists <= (v.replicas ?? 1)),
            toTarget: v.acked_then_lost! + v.two_leaders!,
          },
        ]
      : [],
  cache: (v) =>
    has(v, "cold_s", "warm_s")
      ? [
          {
            bench: "cache",
            measure: "docker build on a warm data root",
            value: v.warm_s!,
            unit: "s",
            baseline: { label: "cold (empty) data root", value: v.cold_s! },
            ratio: v.warm_s! / v.cold_s!,
            target: "< 1× cold",
            met: v.warm_s! < v.cold_s!,
          },
        ]
      : [],
};

export function rowsFor(line: string): Row[] {
  const parsed = parseLine(line);
  if (!parsed) return [];
  return SPECS[parsed.name]?.(parsed.values) ?? [];
}

const fmt = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2));

export function table(rows: Row[]): string {
  const cells = rows.map((row) => [
    row.bench,
    row.measure,
    `${fmt(row.value)} ${row.unit}`,
    row.baseline ? `${fmt(row.baseline.value)} ${row.unit} (${row.baseline.label})` : "—",
    row.ratio === undefined ? "—" : `${row.ratio.toFixed(2)}×`,
    row.target,
    row.met ? "yes" : "NO",
  ]);
  const header = ["bench", "measure", "value", "baseline (same run)", "ratio", "target", "met"];
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((cell) => cell[i]!.length)));
  const line = (cell: string[]) => `| ${cell.map((text, i) => text.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`,
    ...cells.map(line),
  ].join("\n");
}

const xml = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** Words of `text` in lines of at most `width` characters (a word longer than that gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** A row's position on the common scale: its measure over its target's limit (1 = at the limit). */
export function toTargetOf(row: Row): number {
  if (row.toTarget !== undefined) return row.toTarget;
  const limit = Number(/([\d.]+)/.exec(row.target)?.[1] ?? 1) || 1;
  return row.ratio !== undefined && /×/.test(row.target) ? row.ratio / limit : row.value / limit;
}

/**
 * One block per row: its whole label (wrapped, never cut), then a bar of its measure over its target's limit on
 * a scale shared by every row (0 to 2× the target, the target a dashed line at 1×; longer bars end in an arrow),
 * green when met, with the value and the target beside it.
 */
export function svg(rows: Row[], title: string): string {
  const width = 980;
  const margin = 16;
  const lineHeight = 16;
  const barHeight = 16;
  const gap = 12;
  // 12 px sans-serif averages under 7 px a character: 132 characters fit in the width with the margins.
  const charsPerLine = Math.floor((width - 2 * margin) / 7);
  const scaleMax = 2;
  const barMax = 420;
  const x0 = margin;
  const xTarget = x0 + barMax / scaleMax;
  let y = 56;
  const blocks: string[] = [];
  for (const row of rows) {
    const label = wrap(`${row.bench}: ${row.measure}`, charsPerLine);
    for (const line of label) {
      y += lineHeight;
      blocks.push(`<text x="${margin}" y="${y}" font-size="12">${xml(line)}</text>`);
    }
    const position = toTargetOf(row);
    const clipped = position > scaleMax;
    const length = Math.max(2, (Math.min(position, scaleMax) / scaleMax) * barMax);
    const color = row.met ? "#2da44e" : "#cf222e";
    const top = y + 6;
    blocks.push(
      `<rect x="${x0}" y="${top}" width="${length.toFixed(1)}" height="${barHeight}" fill="${color}" rx="3"/>`,
    );
    if (clipped)
      blocks.push(
        `<path d="M${x0 + barMax + 2} ${top} l8 ${barHeight / 2} l-8 ${barHeight / 2} z" fill="${color}"/>`,
      );
    blocks.push(
      `<line x1="${xTarget}" y1="${top - 3}" x2="${xTarget}" y2="${top + barHeight + 3}" stroke="#57606a" stroke-dasharray="3 2"/>`,
      `<text x="${x0 + barMax + 16}" y="${top + 12}" font-size="12">${xml(
        `${fmt(row.value)} ${row.unit}${row.ratio === undefined ? "" : ` (${row.ratio.toFixed(2)}×)`} · ${position.toFixed(2)}× target (${row.target})${row.met ? "" : " · MISSED"}`,
      )}</text>`,
    );
    y = top + barHeight + gap;
  }
  const height = y + margin;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${margin}" y="28" font-size="16" font-weight="bold">${xml(title)}</text>`,
    `<text x="${margin}" y="48" font-size="12" fill="#57606a">${xml(
      `Each bar: the measure over its target's limit, one scale for all rows (0 to ${scaleMax}×; dashed line = the target; green = met).`,
    )}</text>`,
    ...blocks,
    "</svg>",
    "",
  ].join("\n");
}
