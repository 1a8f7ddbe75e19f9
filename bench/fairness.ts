// Fair release against FIFO, on the real planner: one repository queues 500 jobs, a second queues 10 a second
// later; maxRunners 20; every job runs 2 s. A cluster run of this takes minutes per order and measures the
// apiserver and kwok as much as the order, so the reconciler's planning step (planSet over views of the Pods
// buildRunnerPod makes, the repository annotation included) runs here in a loop on a simulated clock: a pass every
// 100 ms, a released runner busy for its job at once and gone 2 s later. The line says clock=simulated.
// It also times planSet over 10,000 queued Pods from 100 repositories, FIFO and fair, on the real clock.
import type { V1Pod } from "@kubernetes/client-node";
import { parseConfig } from "../src/scaler/config/load.ts";
import { ANNOTATIONS, LABELS } from "../src/scaler/model/keys.ts";
import type { Fairness } from "../src/scaler/plan/fair-release.ts";
import { planSet } from "../src/scaler/plan/plan-set.ts";
import { viewPod } from "../src/scaler/plan/pod-view.ts";
import { buildRunnerPod } from "../src/scaler/runner-pod/build-runner-pod.ts";

const SET = parseConfig(
  `github: { org: octo-org, auth: { appId: 1, privateKeyFile: /k }, webhookSecretFile: /s }
kubernetes: { namespace: runners }
runnerSets: [{ name: dind-k8s, labels: [dind-k8s], maxRunners: 20, minIdle: 0 }]`,
  "bench/fairness.ts",
).runnerSets[0]!;

const PASS_MS = 100;
const JOB_MS = 2_000;

function queuedPod(jobId: number, repository: string, atMs: number): V1Pod {
  const { pod } = buildRunnerPod(
    SET,
    { kind: "job", jobId, runAttempt: 1, repository },
    { namespace: "runners", sidecars: "native" },
  );
  pod.metadata!.creationTimestamp = new Date(atMs);
  return pod;
}

/** The same Pod released at `atMs`, its runner busy with its job (a new object, as the Pod cache gives one). */
function releasedPod(pod: V1Pod, atMs: number): V1Pod {
  const { schedulingGates: _, ...spec } = pod.spec!;
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      labels: { ...pod.metadata!.labels, [LABELS.jobState]: "started" },
      annotations: {
        ...pod.metadata!.annotations,
        [ANNOTATIONS.releasedAt]: new Date(atMs).toISOString(),
        [ANNOTATIONS.runnerId]: "1",
        [ANNOTATIONS.busyWith]: pod.metadata!.labels![LABELS.jobId]!,
      },
    },
    spec,
    status: { phase: "Running" },
  };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

interface Arrival {
  repository: string;
  count: number;
  atMs: number;
}

/** Seconds each repository's jobs waited for a runner (queued → released), with `fairness`. */
function simulate(arrivals: Arrival[], maxRunners: number, fairness: Fairness): Map<string, number[]> {
  const pods = new Map<string, { pod: V1Pod; repository: string; queuedAtMs: number; doneAtMs?: number }>();
  const waits = new Map<string, number[]>(arrivals.map((a) => [a.repository, []]));
  let jobId = 1;
  const total = arrivals.reduce((sum, a) => sum + a.count, 0);
  let released = 0;
  for (let now = 0; released < total || pods.size > 0; now += PASS_MS) {
    for (const [name, entry] of pods)
      if (entry.doneAtMs !== undefined && entry.doneAtMs <= now) pods.delete(name);
    for (const arrival of arrivals) {
      if (arrival.atMs <= now && arrival.atMs > now - PASS_MS) {
        for (let i = 0; i < arrival.count; i++) {
          const pod = queuedPod(jobId++, arrival.repository, arrival.atMs);
          pods.set(pod.metadata!.name!, { pod, repository: arrival.repository, queuedAtMs: arrival.atMs });
        }
      }
    }
    const plan = planSet({
      views: [...pods.values()].map((entry) => viewPod(entry.pod)),
      maxRunners,
      minIdle: 0,
      now: new Date(now),
      tombstoneTtlMs: 3_600_000,
      pendingDeadlineMs: 600_000,
      idleGraceMs: 60_000,
      mayRelease: true,
      fairness,
    });
    for (const view of plan.release) {
      const entry = pods.get(view.name)!;
      entry.pod = releasedPod(entry.pod, now);
      entry.doneAtMs = now + JOB_MS;
      waits.get(entry.repository)!.push((now - entry.queuedAtMs) / 1000);
      released++;
    }
    if (now > 3_600_000) throw new Error("the simulation did not drain in an hour of simulated time");
  }
  return waits;
}

/**
 * Median ms of planSet over 10,000 queued Pods of 100 repositories with 200 slots free, FIFO and fair, on the same
 * views, interleaved so both see the same JIT and GC state.
 */
function planMs(): { fifo: number; fair: number } {
  const views = Array.from({ length: 10_000 }, (_, i) =>
    viewPod(queuedPod(50_000_000 + i, `octo-org/repo-${i % 100}`, 1_000 + i)),
  );
  const times = { fifo: [] as number[], fair: [] as number[] };
  for (let i = 0; i < 60; i++) {
    for (const [key, fairness] of [
      ["fifo", { mode: "fifo" }],
      ["fair", { mode: "repository" }],
    ] as const) {
      const started = performance.now();
      planSet({
        views,
        maxRunners: 200,
        minIdle: 0,
        now: new Date(100_000),
        tombstoneTtlMs: 3_600_000,
        pendingDeadlineMs: 600_000,
        idleGraceMs: 60_000,
        mayRelease: true,
        fairness,
      });
      // The first rounds warm the JIT.
      if (i >= 10) times[key].push(performance.now() - started);
    }
  }
  return { fifo: percentile(times.fifo, 50), fair: percentile(times.fair, 50) };
}

export function benchFairness(): string {
  const arrivals = [
    { repository: "octo-org/monorepo", count: 500, atMs: 0 },
    { repository: "octo-org/small", count: 10, atMs: 1_000 },
  ];
  const fifo = simulate(arrivals, 20, { mode: "fifo" });
  const fair = simulate(arrivals, 20, { mode: "repository" });
  const fifoP95 = percentile(fifo.get("octo-org/small")!, 95);
  const fairP95 = percentile(fair.get("octo-org/small")!, 95);
  const bigFifo = percentile(fifo.get("octo-org/monorepo")!, 95);
  const bigFair = percentile(fair.get("octo-org/monorepo")!, 95);
  const fixed = (n: number) => n.toFixed(2);
  const plan = planMs();
  return [
    `fairness: fifo_small_repo_p95_wait_s=${fixed(fifoP95)} fair_small_repo_p95_wait_s=${fixed(fairP95)}`,
    `ratio=${(fairP95 / fifoP95).toFixed(3)} big_repo_p95_wait_s_fifo=${fixed(bigFifo)} big_repo_p95_wait_s_fair=${fixed(bigFair)}`,
    `plan_ms_10000_fifo=${fixed(plan.fifo)} plan_ms_10000_fair=${fixed(plan.fair)}`,
    "jobs=500+10 max_runners=20 job_s=2 clock=simulated",
  ].join(" ");
}
