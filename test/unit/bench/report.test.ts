import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Row, rowsFor, svg, toTargetOf, wrap } from "../../../bench/report.ts";

const latest = JSON.parse(
  await readFile(join(import.meta.dirname, "../../../bench/results/latest.json"), "utf8"),
) as { lines: string[] };
const rows: Row[] = latest.lines.flatMap(rowsFor);
const drawn = svg(rows, "test");
const fromXml = (text: string) =>
  text.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
const texts = [...drawn.matchAll(/<text x="(\d+(?:\.\d+)?)"[^>]*>([^<]*)<\/text>/g)].map((m) => ({
  x: Number(m[1]),
  text: fromXml(m[2]!),
}));

describe("bench/results/latest.svg", () => {
  it("shows every row's label whole: all its words, left-aligned inside the picture, no line wider than it", () => {
    expect(rows.length).toBeGreaterThan(5);
    const all = texts.map((t) => t.text).join(" ");
    for (const row of rows) expect(all).toContain(`${row.bench}: ${row.measure.split(" ")[0]}`);
    const labelLines = texts.filter((t) => t.x === 16).map((t) => t.text);
    const joined = labelLines.join(" ");
    for (const row of rows)
      expect(joined).toContain(`${row.bench}: ${row.measure}`.split(" ").slice(-3).join(" "));
    expect(drawn).not.toContain('text-anchor="end"');
    // 12 px sans-serif is at most ~7 px a character: every line fits between the margins of the 980 px picture.
    const width = Number(/width="(\d+)"/.exec(drawn)![1]);
    for (const t of texts) expect(t.x + t.text.length * 7).toBeLessThanOrEqual(width);
  });

  it("draws every bar on one scale: its length is the row's measure over its target's limit", () => {
    const bars = [...drawn.matchAll(/<rect x="16" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(bars).toHaveLength(rows.length);
    rows.forEach((row, i) => {
      const position = Math.min(Math.max(toTargetOf(row), 0), 2);
      expect(bars[i]).toBeCloseTo(Math.max(2, (position / 2) * 420), 0);
    });
  });

  it.each([
    [{ target: "≤ 1.3× bare", ratio: 1.43, value: 19.6 }, 1.1],
    [{ target: "≤ 10 s", ratio: 0.79, value: 4.16 }, 0.416],
    [{ target: "≤ 140 MB", value: 139 }, 139 / 140],
    [{ target: "0", value: 0 }, 0],
  ])("toTargetOf(%o) = %f", (fields, expected) => {
    const row = { bench: "b", measure: "m", unit: "", met: true, ...fields } as Row;
    expect(toTargetOf(row)).toBeCloseTo(expected, 3);
  });

  it("wrap keeps every word and no line over the width", () => {
    const text =
      "scale: webhook cost with 10,000 Pods vs 100, each relative to bare creates interleaved with it";
    const lines = wrap(text, 30);
    expect(lines.join(" ")).toBe(text);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(30);
  });

  it.each([
    ["recovered within the sweep", "recovered_s=28.0 leaked=0", true],
    // Jobs that started while the scaler was unreachable: the run measured no recovery (an audit ran them).
    ["started during the outage", "recovered_s=-97.4 leaked=0", false],
    ["left runners behind", "recovered_s=28.0 leaked=9", false],
  ])("outage row: %s → met %s", (_name, figures, met) => {
    const [row] = rowsFor(
      `outage: jobs=200 down_s=120 ${figures} lost=0 sweep_s=30 redeliveries=400 over_cap=0`,
    );
    expect(row?.met).toBe(met);
  });
});
