// `npm run bench [-- NAME …]`: runs the benchmarks (all, or the named ones) and prints one line each, as
// ratios against a baseline measured in the same run — never absolute thresholds: machines differ,
// ratios on one machine don't. Benchmarks that need the cluster share one test environment.

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type StartedTestEnv, startTestEnv } from "../test/env/start.ts";
import type { TestEnv } from "../test/env/types.ts";
import { benchAction } from "./action.ts";
import { benchChaos } from "./chaos.ts";
import { type Row, rowsFor, svg, table } from "./report.ts";
import { benchBurst, benchIntake, benchScale } from "./scaler.ts";

const benches: { name: string; run: (env: () => Promise<TestEnv>) => Promise<string> }[] = [
  { name: "action", run: () => benchAction() },
  { name: "intake", run: async (env) => benchIntake(await env()) },
  { name: "burst", run: async (env) => benchBurst(await env()) },
  { name: "scale", run: async (env) => benchScale(await env()) },
  { name: "chaos", run: async (env) => benchChaos(await env()) },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !benches.some((bench) => bench.name === name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark ${unknown.join(", ")}; choose from ${benches.map((b) => b.name).join(", ")}\n`,
  );
  process.exit(2);
}

let started: StartedTestEnv | undefined;
const env = async () => {
  started ??= await startTestEnv({ install: true });
  return started.env;
};

let failed = false;
try {
  for (const bench of benches) {
    if (wanted.length > 0 && !wanted.includes(bench.name)) continue;
    const t0 = performance.now();
    try {
      process.stdout.write(`${await bench.run(env)}\n`);
    } catch (error: unknown) {
      failed = true;
      process.stdout.write(
        `${bench.name}: failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
    process.stderr.write(`(${bench.name} took ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
} finally {
  await started?.stop();
}
process.exit(failed ? 1 : 0);
