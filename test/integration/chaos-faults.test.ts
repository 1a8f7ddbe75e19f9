// Each figure of the chaos run names a way the scaler can fail; here each is shown to catch its failure. A small
// run (no kills, no drops: only the fault) against a scaler built with one bug each (test/helpers/faults), and
// the figure that names it must come out non-zero — else the chaos test's 0 would prove nothing.
import { describe, expect, inject, it } from "vitest";
import {
  type ChaosOptions,
  chaosFailures,
  chaosLine,
  extraRunnersBound,
  runChaos,
} from "../helpers/chaos.ts";
import type { Fault } from "../helpers/faults/faults.ts";

const env = inject("testenv");

/** Source text of a template literal, written with #{…} for its placeholders. */
const templateSource = (text: string) => text.replaceAll("#{", "${");

const faultyRun = async (
  fault: Fault,
  stopWhen: NonNullable<ChaosOptions["stopWhen"]>,
  run: Partial<ChaosOptions> = {},
) => {
  const report = await runChaos(env, {
    jobs: 30,
    maxRunners: 6,
    kills: 0,
    dropRate: 0,
    reorderRate: 0,
    ...run,
    jobMs: 300,
    // A faulty scaler may never converge: the run ends once the figure shows the bug, or when the time is up
    // (and then the test fails). A correct scaler converges and ends the run with the figure at 0.
    timeoutMs: 80_000,
    stopWhen,
    faults: [fault],
  });
  process.stderr.write(`${fault.name}: ${chaosLine(report)}\n`);
  return report;
};

describe.concurrent("chaos figures catch the bug they name", () => {
  it("two_runners: Pod names no longer derived from the job alone, so both copies of a delivery start a runner", async () => {
    const report = await faultyRun(
      {
        name: "random-pod-names",
        file: "src/scaler/runner-pod/names.ts",
        find: templateSource("suffix = `-#{target.jobId}-#{target.runAttempt}`;"),
        replace: templateSource(
          "suffix = `-#{target.jobId}-#{target.runAttempt}-#{Math.random().toString(36).slice(2, 6)}`;",
        ),
      },
      (now) => now.twoRunners > 0,
      // Room for every Pod, so both Pods of a job are released together however slow the machine is.
      { jobs: 10, maxRunners: 20 },
    );
    expect(report.twoRunners).toBeGreaterThan(0);
    expect(chaosFailures(report).some((failure) => failure.startsWith("two_runners="))).toBe(true);
  }, 120_000);

  it("released_after_done: a gated Pod of a completed job (a tombstone) read as still queued", async () => {
    const report = await faultyRun(
      {
        name: "tombstones-queued",
        file: "src/scaler/plan/pod-view.ts",
        find: 'state = jobState === "done" ? "tombstone" : "queued"',
        replace: 'state = "queued"',
      },
      (now) => now.releasedAfterDone > 0,
      // Late deliveries: a job's `completed` overtakes its `queued` and leaves a tombstone, which the bug releases.
      { reorderRate: 0.5 },
    );
    expect(report.releasedAfterDone).toBeGreaterThan(0);
    expect(chaosFailures(report).some((failure) => failure.startsWith("released_after_done="))).toBe(true);
  }, 120_000);

  it("extra_runners: five runners more wanted than jobs wait (an off-by-some in the plan), made and never used", async () => {
    const report = await faultyRun(
      {
        name: "five-more-wanted",
        file: "src/scaler/plan/plan-set.ts",
        find: "const wanted = waitingJobs + input.minIdle;",
        replace: "const wanted = waitingJobs + input.minIdle + 5;",
      },
      // Only once every job ran: until then a registered runner may still take one.
      (now) => now.allDone && now.unusedRegistrations() > extraRunnersBound(30),
    );
    expect(report.extraKinds.unneeded).toBeGreaterThan(extraRunnersBound(report.jobs));
    expect(chaosFailures(report).some((failure) => failure.startsWith("re_registered+unneeded="))).toBe(true);
  }, 120_000);
});
