// Recovery after an outage: the scaler unreachable from GitHub for 120 s (its Service answers 502; the replica
// keeps running and reaches GitHub) while 200 jobs are queued, then reachable again. Every queued delivery failed;
// the redelivery sweep (every 30 s here) must bring each job its runner within one sweep interval of the end of the
// outage (target: + 10 s). The queued-job audit is left at its default (10 minutes), so it's the sweep that is
// measured. Real `dind-k8s serve`, apiserver, scheduler and kwok's Nodes (test/helpers/chaos.ts).
import type { TestEnv } from "../test/env/types.ts";
import { type ChaosOptions, runChaos } from "../test/helpers/chaos.ts";

const SWEEP_MS = 30_000;

/**
 * A backlog coming back after an outage (this bench's and apiserver-outage's): 200 jobs of 500 ms with room for
 * every one at once — what is measured is how fast the backlog returns, not how fast 200 jobs drain through fewer
 * runners — no other chaos, the sweep every 30 s, the queued-job audit at its default (10 minutes).
 */
export const OUTAGE_BACKLOG = {
  jobs: 200,
  maxRunners: 200,
  kills: 0,
  dropRate: 0,
  reorderRate: 0,
  jobMs: 500,
  log: (line: string) => process.stderr.write(`${line}\n`),
  recovery: { redeliveryMs: SWEEP_MS, auditMs: 10 * 60_000, redeliveryLookbackMs: 10 * 60_000 },
} satisfies Partial<ChaosOptions>;

export async function benchOutage(env: TestEnv): Promise<string> {
  const downMs = 120_000;
  const report = await runChaos(env, {
    ...OUTAGE_BACKLOG,
    timeoutMs: downMs + 12 * 60_000,
    outage: { downMs },
  });
  const recovered = report.recoveredS ?? Number.POSITIVE_INFINITY;
  return `outage: jobs=${report.jobs} down_s=${downMs / 1000} recovered_s=${Number.isFinite(recovered) ? recovered.toFixed(1) : "never"} lost=${report.lost} sweep_s=${SWEEP_MS / 1000} redeliveries=${report.redeliveries} log_reads=${report.deliveryLogReads} first_redelivered_s=${report.firstRedeliveredS?.toFixed(1) ?? "none"} last_redelivered_s=${report.lastRedeliveredS?.toFixed(1) ?? "none"} last_registered_s=${report.lastRegisteredS?.toFixed(1) ?? "none"} leaked=${report.leaked} over_cap=${report.overCap}`;
}
