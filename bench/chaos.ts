// The chaos scenario of test/integration/chaos.test.ts at full size: 500 jobs, three kill -9.
import type { TestEnv } from "../test/env/types.ts";
import { chaosFailures, chaosLine, runChaos } from "../test/helpers/chaos.ts";

export async function benchChaos(env: TestEnv): Promise<string> {
  const report = await runChaos(env, {
    jobs: 500,
    maxRunners: 40,
    kills: 3,
    dropRate: 0.1,
    reorderRate: 0.1,
    jobMs: 500,
    timeoutMs: 900_000,
  });
  const line = chaosLine(report);
  // What must never happen fails the bench; registrations beyond one per job are a target row (met or not).
  const failures = chaosFailures(report).filter((failure) => !failure.startsWith("re_registered+unneeded="));
  if (failures.length > 0) throw new Error(`${line} — ${failures.join("; ")}`);
  return line;
}
