// Never lose a job: a burst where every delivery arrives twice, some are dropped, some overtaken, the
// scaler is killed with SIGKILL and restarted, and two replicas run at once for a while. Sized for CI;
// `npm run bench` runs the same with 500 jobs.
import { describe, expect, inject, it } from "vitest";
import { chaosFailures, chaosLine, runChaos } from "../helpers/chaos.ts";

const env = inject("testenv");

describe("chaos", () => {
  it("every job gets one runner, none is released for a job already over, the cap holds, extra registrations stay within 2 %, and nothing is left behind", async () => {
    const report = await runChaos(env, {
      jobs: 60,
      maxRunners: 8,
      kills: 2,
      dropRate: 0.1,
      reorderRate: 0.1,
      jobMs: 300,
      timeoutMs: 150_000,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stderr.write(`${chaosLine(report)}\n`);
    expect(report.kills).toBe(2);
    expect(report.droppedEvents).toBeGreaterThan(0);
    expect(report.redeliveries).toBeGreaterThan(0);
    expect(chaosFailures(report)).toEqual([]);
  }, 180_000);
});
