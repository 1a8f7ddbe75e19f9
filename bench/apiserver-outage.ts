// The apiserver is the scaler's only store, so its faults are the scaler's: 200 jobs through two real `dind-k8s
// serve` replicas; 1 s into the burst the apiserver is cut off from both for 60 s — a TCP proxy between them
// stops forwarding, so requests hang rather than fail — and 5 s after the cut, kube-apiserver itself restarts
// (connections refused, every watch ends). Counted: deliveries and redeliveries answered 2xx whose job never ran
// (acked_then_lost), the most replicas leading at once (two_leaders = that minus one, at least 0), jobs never run
// (lost), and how long after the apiserver is back every job has started.
import type { TestEnv } from "../test/env/types.ts";
import { runChaos } from "../test/helpers/chaos.ts";

export async function benchApiserverOutage(
  env: TestEnv,
  restartApiserver: () => Promise<void>,
): Promise<string> {
  const downMs = 60_000;
  const report = await runChaos(env, {
    jobs: 200,
    maxRunners: 200,
    kills: 0,
    dropRate: 0,
    reorderRate: 0,
    jobMs: 500,
    timeoutMs: downMs + 4 * 60_000,
    twoReplicas: true,
    log: (line) => process.stderr.write(`${line}\n`),
    apiserverCut: { atMs: 1_000, downMs },
    apiserverRestart: { afterCutMs: 5_000, restart: restartApiserver },
    // Sweep every 30 s; the Lease as in every chaos run (2 s, renew deadline 1.5 s).
    recovery: { redeliveryMs: 30_000, auditMs: 10 * 60_000, redeliveryLookbackMs: 10 * 60_000 },
  });
  const recovered = report.recoveredS ?? Number.POSITIVE_INFINITY;
  return [
    `apiserver_outage: jobs=${report.jobs} down_s=${downMs / 1000} acked_then_lost=${report.ackedThenLost}`,
    `two_leaders=${Math.max(0, report.maxLeaders - 1)} restarted=1 recovered_s=${Number.isFinite(recovered) ? recovered.toFixed(1) : "never"}`,
    `lost=${report.lost} leaked=${report.leaked} over_cap=${report.overCap} redeliveries=${report.redeliveries}`,
    `relists=${report.cacheRelists} replicas=2`,
  ].join(" ");
}
