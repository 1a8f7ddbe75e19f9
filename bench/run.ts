// `npm run bench`: runs every benchmark and prints one line each, as ratios against a baseline
// measured in the same run (never absolute thresholds: machines differ, ratios on one machine don't).
import { existsSync } from "node:fs";
import { join } from "node:path";

interface BenchModule {
  [name: string]: unknown;
}

/** Benchmark modules and the function each exports; a module not written yet is reported, not hidden. */
const benches: { file: string; exportName: string }[] = [{ file: "action.ts", exportName: "benchAction" }];

let failed = false;
for (const { file, exportName } of benches) {
  const path = join(import.meta.dirname, file);
  if (!existsSync(path)) {
    process.stdout.write(`${file}: not written yet\n`);
    continue;
  }
  const module = (await import(path)) as BenchModule;
  const bench = module[exportName];
  if (typeof bench !== "function") throw new Error(`${file} does not export ${exportName}()`);
  try {
    process.stdout.write(`${String(await bench())}\n`);
  } catch (error: unknown) {
    failed = true;
    process.stdout.write(`${file}: failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}
process.exit(failed ? 1 : 0);
