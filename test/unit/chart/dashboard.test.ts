// The Grafana dashboard shipped with the chart may only query metrics the scaler really exports.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createCacheMetrics } from "../../../src/scaler/cache/metrics.ts";
import { createMetrics } from "../../../src/scaler/observe/metrics.ts";

interface Panel {
  title: string;
  targets: { expr: string }[];
}

const dashboardPath = join(import.meta.dirname, "../../../charts/dind-k8s/dashboards/dind-k8s.json");

/** Every series name a metric exposes (a histogram's _bucket/_sum/_count, …). */
async function exportedSeries(): Promise<Set<string>> {
  const metrics = createMetrics();
  createCacheMetrics(metrics.registry);
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram")
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

/** Metric names in a PromQL expression: identifiers followed by `{`, `[` or `)` that aren't functions or labels. */
function metricNames(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, "{}").replace(/\b(by|without)\s*\([^)]*\)/g, "");
  return [...withoutLabels.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)]
    .map((match) => match[1]!)
    .filter((name) =>
      /_(total|bytes|seconds|bucket|remaining|runners|volumes)$|^dind_k8s_|^process_|^nodejs_/.test(name),
    );
}

describe("Grafana dashboard", () => {
  it("queries only metrics the scaler exports", async () => {
    const dashboard = JSON.parse(await readFile(dashboardPath, "utf8")) as { panels: Panel[] };
    const exported = await exportedSeries();
    const used = dashboard.panels.flatMap((panel) =>
      panel.targets.flatMap((target) => metricNames(target.expr)),
    );
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });

  it("shows every metric of the scaler somewhere", async () => {
    const dashboard = await readFile(dashboardPath, "utf8");
    const own = (await createMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).map(
      (metric) => metric.name,
    );
    const cache = (
      await (() => {
        const registry = new Registry();
        createCacheMetrics(registry);
        return registry.getMetricsAsJSON();
      })()
    ).map((metric) => metric.name);
    const unrecycled = [...own, ...cache].filter((name) => name !== "dind_k8s_cache_recycled_total");
    expect(unrecycled.filter((name) => !dashboard.includes(name))).toEqual([]);
  });
});
