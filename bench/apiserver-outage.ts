// The apiserver is the scaler's only store, so its faults are the scaler's: 200 jobs through two real `dind-k8s
// serve` replicas; 1 s into the burst the apiserver is cut off from both for 60 s — a TCP proxy between them
// stops forwarding, so requests hang rather than fail — and 5 s after the cut, kube-apiserver itself restarts
// (connections refused, every watch ends). Counted: deliveries and redeliveries answered 2xx whose job never ran
// (acked_then_lost), the most replicas leading at once (two_leaders = that minus one, at least 0), jobs never run
// (lost), and how long after the apiserver is back every job has started.
import type { TestEnv } from "../test/env/types.ts";
import { runChaos } from "../test/helpers/chaos.ts";
import { OUTAGE_BACKLOG } from "./outage.ts";

export async function benchApiserverOutage(
  env: TestEnv,
  restartApiserver: () => Promise<void>,
): Promise<string> {
  const downMs = 60_000;
  // The Lease as in every chaos run (2 s, renew deadline 1.5 s).
  const report = await runChaos(env, {
    ...OUTAGE_BACKLOG,
    timeoutMs: downMs + 4 * 60_000,
    twoReplicas: true,
    apiserverCut: { atMs: 1_000, downMs },
    apiserverRestart: { afterCutMs: 5_000, restart: restartApiserver },
  });
  const recovered = report.recoveredS ?? Number.POSITIVE_INFINITY;
  return [
    `apiserver_outage: jobs=${report.jobs} down_s=${downMs / 1000} acked_then_lost=${report.ackedThenLost}`,
    `two_leaders=${Math.max(0, report.maxLeaders - 1)} restarted=1 recovered_s=${Number.isFinite(recovered) ? recovered.toFixed(1) : "never"}`,
    `lost=${report.lost} leaked=${report.leaked} over_cap=${report.overCap} redeliveries=${report.redeliveries}`,
    `relists=${report.cacheRelists} replicas=2`,
  ].join(" ");
}
