// `npm test`: lint + type check, then every vitest project (unit and integration) in one run,
// then one closing line `tests: N passed, N failed, N skipped` so CI logs say what ran.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function step(command: string, args: string[]): number {
  const result = spawnSync(command, args, { stdio: "inherit" });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

// Biome, tsc, and the generated files (chart schema, chart RBAC, chart README, README tables) up to date.
if (step("npm", ["run", "--silent", "lint"]) !== 0) {
  process.stdout.write("lint failed: 'npm run format' fixes formatting, 'npm run gen' the generated files\n");
  process.exit(1);
}

const reportDir = mkdtempSync(join(tmpdir(), "dind-k8s-test-report-"));
const reportFile = join(reportDir, "vitest.json");
const status = step("npx", [
  "vitest",
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${reportFile}`,
  ...process.argv.slice(2),
]);

interface VitestJsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
  /** Per file: "failed" also when the file failed as a whole (an error in beforeAll, an import that threw). */
  testResults: { status: string; assertionResults: { status: string }[] }[];
}

/**
 * Failed tests, plus one for each file that failed with no failed test of its own (its tests count as skipped):
 * numFailedTestSuites can't be added instead, as it also counts every describe block around a failed test.
 */
function failures(report: VitestJsonReport): number {
  const wholeFiles = report.testResults.filter(
    (file) => file.status === "failed" && !file.assertionResults.some((test) => test.status === "failed"),
  ).length;
  return report.numFailedTests + wholeFiles;
}
try {
  const report = JSON.parse(readFileSync(reportFile, "utf8")) as VitestJsonReport;
  const skipped = report.numPendingTests + report.numTodoTests;
  // A file that failed as a whole counts as a failure, or the line would read "0 failed" on a red run.
  process.stdout.write(
    `tests: ${report.numPassedTests} passed, ${failures(report)} failed, ${skipped} skipped\n`,
  );
  if (report.numTotalTests === 0) {
    process.stdout.write("no test ran: that is a failure\n");
    process.exit(1);
  }
} catch {
  process.stdout.write("tests: no report was written (vitest failed before running tests)\n");
  process.exit(status === 0 ? 1 : status);
} finally {
  rmSync(reportDir, { recursive: true, force: true });
}
process.exit(status);
