// The redelivery sweep across an outage of the hook: GitHub's side is a fake that records each delivery attempt
// and fails it while the hook is down, as GitHub does (it never retries on its own).
import { describe, expect, it } from "vitest";
import type { RunnerPods } from "../../../src/scaler/kube/runner-pods.ts";
import { silentLogger } from "../../../src/scaler/observe/log.ts";
import { createMetrics } from "../../../src/scaler/observe/metrics.ts";
import { Recovery, type RecoveryGitHub } from "../../../src/scaler/reconcile/recovery.ts";

interface Attempt {
  id: number;
  guid: string;
  deliveredAtMs: number;
  ok: boolean;
}

/** `redeliveryDelayMs`: how long after a redelivery is asked for GitHub makes the attempt. */
function fakeGitHub(clock: () => number, redeliveryDelayMs = 0) {
  const attempts: Attempt[] = [];
  const pending: { guid: string; dueMs: number }[] = [];
  let nextId = 1;
  let up = false;
  let redeliveries = 0;
  const attempt = (guid: string) => attempts.push({ id: nextId++, guid, deliveredAtMs: clock(), ok: up });
  /** Redeliveries asked for, by GUID, with the time asked. */
  const asked: { guid: string; atMs: number }[] = [];
  const github: RecoveryGitHub = {
    async listFailedWebhookDeliveries(since) {
      for (const due of pending.filter((p) => p.dueMs <= clock())) {
        pending.splice(pending.indexOf(due), 1);
        attempt(due.guid);
      }
      const inWindow = attempts.filter((a) => a.deliveredAtMs >= since.getTime());
      const delivered = new Set(inWindow.filter((a) => a.ok).map((a) => a.guid));
      const newest = new Map<string, Attempt>();
      for (const a of inWindow) if (!a.ok && !delivered.has(a.guid)) newest.set(a.guid, a);
      return [...newest.values()].map((a) => ({
        id: a.id,
        guid: a.guid,
        event: "workflow_job",
        deliveredAt: new Date(a.deliveredAtMs),
      }));
    },
    async redeliverWebhook(deliveryId) {
      redeliveries++;
      // GitHub redelivers at once here; the attempt succeeds only when the hook answers.
      const { guid } = attempts.find((a) => a.id === deliveryId)!;
      asked.push({ guid, atMs: clock() });
      if (redeliveryDelayMs === 0) attempt(guid);
      else pending.push({ guid, dueMs: clock() + redeliveryDelayMs });
    },
    async listQueuedJobs() {
      return [];
    },
    async getWorkflowJob() {
      return { status: "queued", runnerName: null };
    },
    callCount: () => 0,
  };
  return {
    github,
    deliver: attempt,
    setUp: (value: boolean) => {
      up = value;
    },
    delivered: (guid: string) => attempts.some((a) => a.guid === guid && a.ok),
    redeliveries: () => redeliveries,
    /** How many redeliveries of these GUIDs were asked for before `beforeMs`. */
    askedFor: (guids: string[], beforeMs: number) =>
      asked.filter((a) => guids.includes(a.guid) && a.atMs < beforeMs).length,
  };
}

const T0 = Date.parse("2026-08-06T12:00:00Z");
const SWEEP_MS = 30_000;

/** Recovery with no runner sets and no Pods: only its redelivery sweep, every SWEEP_MS. */
function sweepOnly(github: ReturnType<typeof fakeGitHub>["github"]): Recovery {
  return new Recovery({
    runnerSets: [],
    pods: { cached: () => [], cachedPod: () => undefined } as unknown as RunnerPods,
    github,
    podFor: () => ({}),
    log: silentLogger,
    metrics: createMetrics({ processMetrics: false }),
    timing: {
      redeliveryMs: SWEEP_MS,
      redeliveryLookbackMs: 3_600_000,
      auditMs: 3_600_000,
      auditGraceMs: 60_000,
      auditJobLookups: 10,
    },
  });
}

describe("the redelivery sweep after an outage of the hook", () => {
  it("asks again for deliveries whose redelivery failed, once a probe gets through, within 10 s and 5 s", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    const recovery = sweepOnly(fake.github);
    const guids = Array.from({ length: 50 }, (_, i) => `guid-${i}`);
    // The hook is down: every queued delivery fails; the sweep (every 30 s, passes every second) keeps going.
    for (const guid of guids) fake.deliver(guid);
    const upAtMs = T0 + 125_000;
    let recoveredAtMs: number | undefined;
    let redeliveriesAtUp = 0;
    for (; now <= T0 + 300_000; now += 1_000) {
      if (now === upAtMs) {
        fake.setUp(true);
        redeliveriesAtUp = fake.redeliveries();
      }
      await recovery.maybeRun(new Date(now));
      if (recoveredAtMs === undefined && guids.every(fake.delivered)) recoveredAtMs = now;
    }
    expect(recoveredAtMs).toBeDefined();
    // Within a probe's retry (10 s, shorter than the sweep) of the hook's return, plus the probe's check.
    expect(recoveredAtMs! - upAtMs).toBeLessThanOrEqual(10_000 + 5_000);
    // During the outage: 50 failed at once, so one probe per 10 s and no delivery asked for alone; then each once.
    const probes = Math.ceil(125_000 / 10_000) + 1;
    expect(redeliveriesAtUp).toBeGreaterThan(0);
    expect(redeliveriesAtUp).toBeLessThanOrEqual(probes);
    expect(fake.redeliveries()).toBeLessThanOrEqual(probes + guids.length);
  });

  it("holds the deliveries that fail while a probe says the hook is down, and asks each once when it is back", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    const recovery = sweepOnly(fake.github);
    // A few fail (too few to suspect an outage: asked for at once, and fail again), then jobs keep queuing.
    const first = ["a", "b", "c"];
    for (const guid of first) fake.deliver(guid);
    const later = Array.from({ length: 20 }, (_, i) => `later-${i}`);
    const upAtMs = T0 + 180_000;
    let atUp = 0;
    for (; now <= T0 + 300_000; now += 1_000) {
      if (now === T0 + 40_000) for (const guid of later) fake.deliver(guid);
      if (now === upAtMs) {
        fake.setUp(true);
        atUp = fake.redeliveries();
      }
      await recovery.maybeRun(new Date(now));
    }
    expect([...first, ...later].every(fake.delivered)).toBe(true);
    // The first three each once, then probes only: none of the 20 asked for while the hook was down.
    expect(fake.askedFor(later, upAtMs)).toBe(0);
    expect(atUp).toBeLessThanOrEqual(first.length + Math.ceil(180_000 / 10_000));
    // After: each still failed delivery once (the probe that got through is one of them).
    expect(fake.askedFor(later, Number.POSITIVE_INFINITY)).toBeLessThanOrEqual(later.length);
  });

  it("looks again at a probe GitHub is slow to redeliver within seconds, not a sweep interval later", async () => {
    let now = T0;
    // GitHub makes each redelivery 7 s after it is asked for: after the probe's first check (5 s).
    const fake = fakeGitHub(() => now, 7_000);
    const recovery = sweepOnly(fake.github);
    const guids = Array.from({ length: 20 }, (_, i) => `slow-${i}`);
    for (const guid of guids) fake.deliver(guid);
    const upAtMs = T0 + 62_000;
    let recoveredAtMs: number | undefined;
    for (; now <= T0 + 300_000; now += 1_000) {
      if (now === upAtMs) fake.setUp(true);
      await recovery.maybeRun(new Date(now));
      await fake.github.listFailedWebhookDeliveries(new Date(T0)); // GitHub's side moves on between passes
      if (recoveredAtMs === undefined && guids.every(fake.delivered)) recoveredAtMs = now;
    }
    expect(recoveredAtMs).toBeDefined();
    // A probe at most 10 s after the return, 7 s until GitHub redelivers it, 5 s between looks, then the rest 7 s
    // later: well inside one 30 s sweep.
    expect(recoveredAtMs! - upAtMs).toBeLessThanOrEqual(10_000 + 7_000 + 5_000 + 7_000);
  });

  it("asks once for a delivery that fails while the hook answers (no probe, no repeat)", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    fake.setUp(true);
    const recovery = sweepOnly(fake.github);
    fake.setUp(false);
    fake.deliver("lost-once");
    fake.setUp(true);
    for (; now <= T0 + 120_000; now += 1_000) await recovery.maybeRun(new Date(now));
    expect(fake.delivered("lost-once")).toBe(true);
    expect(fake.redeliveries()).toBe(1);
  });
});
