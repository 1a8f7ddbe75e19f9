// `npm run bench [-- NAME …]`: runs the benchmarks (all, or the named ones) and prints one line each, as
// ratios against a baseline measured in the same run — never absolute thresholds: machines differ,
// ratios on one machine don't. Benchmarks that need the cluster share one test environment.

import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type StartedTestEnv, startTestEnv } from "../test/env/start.ts";
import type { TestEnv } from "../test/env/types.ts";
import { benchAbuse } from "./abuse.ts";
import { benchAction } from "./action.ts";
import { benchApiserverOutage } from "./apiserver-outage.ts";
import { benchCache } from "./cache.ts";
import { benchChaos } from "./chaos.ts";
import { benchFairness } from "./fairness.ts";
import { benchOutage } from "./outage.ts";
import { benchPoll } from "./poll.ts";
import { type Row, rowsFor, svg, table } from "./report.ts";
import { benchBurst, benchIntake, benchScale } from "./scaler.ts";
import { benchSchedule } from "./schedule.ts";

const benches: { name: string; run: (env: () => Promise<TestEnv>) => Promise<string> }[] = [
  { name: "action", run: () => benchAction() },
  { name: "intake", run: async (env) => benchIntake(await env()) },
  { name: "burst", run: async (env) => benchBurst(await env()) },
  { name: "scale", run: async (env) => benchScale(await env()) },
  { name: "chaos", run: async (env) => benchChaos(await env()) },
  { name: "cache", run: async (env) => benchCache(await env()) },
  { name: "abuse", run: async (env) => benchAbuse(await env()) },
  { name: "poll", run: async (env) => benchPoll(await env()) },
  // The real planner on a simulated clock: no cluster.
  { name: "fairness", run: async () => benchFairness() },
  { name: "schedule", run: async (env) => benchSchedule(await env()) },
  { name: "outage", run: async (env) => benchOutage(await env()) },
  {
    name: "apiserver-outage",
    run: async (env) => benchApiserverOutage(await env(), () => started!.restartApiserver()),
  },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !benches.some((bench) => bench.name === name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark ${unknown.join(", ")}; choose from ${benches.map((b) => b.name).join(", ")}\n`,
  );
  process.exit(2);
}

// Measure what ships: the scaler benchmarks run the bundle, so build it from the sources first.
const built = spawnSync(process.execPath, [join(import.meta.dirname, "../scripts/build.ts")], {
  stdio: "inherit",
});
if (built.status !== 0) {
  process.stderr.write("bench: npm run build failed\n");
  process.exit(1);
}

let started: StartedTestEnv | undefined;
const env = async () => {
  started ??= await startTestEnv({ install: true });
  return started.env;
};

// A crash (a benchmark that could not measure) fails the command; a missed target doesn't — the table says so.
let crashed = false;
const lines: string[] = [];
try {
  for (const bench of benches) {
    if (wanted.length > 0 && !wanted.includes(bench.name)) continue;
    const t0 = performance.now();
    try {
      const line = await bench.run(env);
      lines.push(line);
      process.stdout.write(`${line}\n`);
    } catch (error: unknown) {
      crashed = true;
      process.stdout.write(
        `${bench.name}: failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
    process.stderr.write(`(${bench.name} took ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
} finally {
  await started?.stop();
}

const rows: Row[] = lines.flatMap(rowsFor);
process.stdout.write(`\n${table(rows)}\n`);
const missed = rows.filter((row) => !row.met).length;
process.stdout.write(`\n${rows.length - missed} of ${rows.length} targets met\n`);
const results = join(import.meta.dirname, "results");
await mkdir(results, { recursive: true });
const when = new Date().toISOString();
await writeFile(
  join(results, "latest.json"),
  `${JSON.stringify({ when, node: process.version, lines, rows }, null, 2)}\n`,
);
await writeFile(
  join(results, "latest.svg"),
  svg(rows, `dind-k8s benchmarks, ${when.slice(0, 10)} (ratios against baselines of the same run)`),
);
process.stdout.write("wrote bench/results/latest.json and bench/results/latest.svg\n");
process.exit(crashed ? 1 : 0);
