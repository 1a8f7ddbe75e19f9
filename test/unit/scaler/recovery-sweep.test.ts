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
  event: string;
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
  let lose = 0;
  /** GUIDs the hook refuses even when it is up (the scaler's 503 for a set whose backlog is full). */
  const refused = new Set<string>();
  const eventOf = new Map<string, string>();
  const attempt = (guid: string, event = eventOf.get(guid) ?? "workflow_job") => {
    eventOf.set(guid, event);
    attempts.push({ id: nextId++, guid, event, deliveredAtMs: clock(), ok: up && !refused.has(guid) });
  };
  /** Redeliveries asked for, by GUID, with the time asked. */
  const asked: { guid: string; atMs: number }[] = [];
  /** GitHub makes the redeliveries that are due. */
  const makeDue = () => {
    for (const due of pending.filter((p) => p.dueMs <= clock())) {
      pending.splice(pending.indexOf(due), 1);
      attempt(due.guid);
    }
  };
  let listings = 0;
  /** Pages of 100 the listings read (GitHub's log is read page by page). */
  let pages = 0;
  const paged = <T>(entries: T[]): T[] => {
    pages += Math.max(1, Math.ceil(entries.length / 100));
    return entries;
  };
  const github: RecoveryGitHub = {
    async listWebhookDeliveriesAfter(afterId, since) {
      makeDue();
      listings++;
      return paged(
        attempts
          .filter((a) => a.id > (afterId ?? 0) && a.deliveredAtMs >= since.getTime())
          .reverse()
          .map((a) => ({ id: a.id, guid: a.guid, statusCode: a.ok ? 200 : 502 })),
      );
    },
    async listFailedWebhookDeliveries(since) {
      makeDue();
      listings++;
      const inWindow = paged(attempts.filter((a) => a.deliveredAtMs >= since.getTime()));
      const delivered = new Set(inWindow.filter((a) => a.ok).map((a) => a.guid));
      const newest = new Map<string, Attempt>();
      for (const a of inWindow) if (!a.ok && !delivered.has(a.guid)) newest.set(a.guid, a);
      return [...newest.values()].map((a) => ({
        id: a.id,
        guid: a.guid,
        event: a.event,
        deliveredAt: new Date(a.deliveredAtMs),
      }));
    },
    async redeliverWebhook(deliveryId) {
      redeliveries++;
      // GitHub redelivers at once here; the attempt succeeds only when the hook answers.
      const { guid } = attempts.find((a) => a.id === deliveryId)!;
      asked.push({ guid, atMs: clock() });
      if (lose > 0)
        lose--; // accepted, never made
      else if (redeliveryDelayMs === 0) attempt(guid);
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
    refuse: (guid: string) => refused.add(guid),
    /** The next `count` redeliveries are accepted and never made. */
    loseNext: (count: number) => {
      lose = count;
    },
    delivered: (guid: string) => attempts.some((a) => a.guid === guid && a.ok),
    redeliveries: () => redeliveries,
    /** GitHub's side moves on: the redeliveries that are due are made. */
    makeDue,
    /** Listing calls of either kind, and the pages they read. */
    listings: () => listings,
    pages: () => pages,
    /** How many redeliveries of these GUIDs were asked for before `beforeMs`. */
    askedFor: (guids: string[], beforeMs: number) =>
      asked.filter((a) => guids.includes(a.guid) && a.atMs < beforeMs).length,
  };
}

const T0 = Date.parse("2026-08-06T12:00:00Z");
const SWEEP_MS = 30_000;

/** Recovery with no runner sets and no Pods: only its redelivery sweep, every SWEEP_MS. */
function sweepOnly(
  github: ReturnType<typeof fakeGitHub>["github"],
  more: { lookbackMs?: number; cursor?: { load(): Date | undefined; save(at: Date): void } } = {},
): Recovery {
  return new Recovery({
    cursor: more.cursor,
    runnerSets: [],
    pods: { cached: () => [], cachedPod: () => undefined } as unknown as RunnerPods,
    github,
    podFor: () => ({}),
    log: silentLogger,
    metrics: createMetrics({ processMetrics: false }),
    timing: {
      redeliveryMs: SWEEP_MS,
      redeliveryLookbackMs: more.lookbackMs ?? 3_600_000,
      auditMs: 3_600_000,
      auditGraceMs: 60_000,
      auditJobLookups: 10,
    },
  });
}

/**
 * Sweeps every second from `clock.now` to `untilMs`, the hook back at `upAtMs`, GitHub making the redeliveries that
 * are due between passes: how long after the return every GUID was delivered (undefined: not by `untilMs`), and
 * how many redeliveries had been asked for when it came back.
 */
async function sweepUntil(
  recovery: Recovery,
  fake: ReturnType<typeof fakeGitHub>,
  clock: { now: number },
  { guids, upAtMs, untilMs }: { guids: string[]; upAtMs: number; untilMs: number },
): Promise<{ recoveredMs: number | undefined; redeliveriesAtUp: number }> {
  let recoveredMs: number | undefined;
  let redeliveriesAtUp = 0;
  for (; clock.now <= untilMs; clock.now += 1_000) {
    if (clock.now === upAtMs) {
      fake.setUp(true);
      redeliveriesAtUp = fake.redeliveries();
    }
    await recovery.maybeRun(new Date(clock.now));
    fake.makeDue();
    if (recoveredMs === undefined && guids.every(fake.delivered)) recoveredMs = clock.now - upAtMs;
  }
  return { recoveredMs, redeliveriesAtUp };
}

describe("the redelivery sweep after an outage of the hook", () => {
  it("asks again for deliveries whose redelivery failed, once a probe gets through, within 10 s and 5 s", async () => {
    const clock = { now: T0 };
    const fake = fakeGitHub(() => clock.now);
    const recovery = sweepOnly(fake.github);
    const guids = Array.from({ length: 50 }, (_, i) => `guid-${i}`);
    // The hook is down: every queued delivery fails; the sweep (every 30 s, passes every second) keeps going.
    for (const guid of guids) fake.deliver(guid);
    const { recoveredMs, redeliveriesAtUp } = await sweepUntil(recovery, fake, clock, {
      guids,
      upAtMs: T0 + 125_000,
      untilMs: T0 + 300_000,
    });
    expect(recoveredMs).toBeDefined();
    // Within a probe's retry (10 s, shorter than the sweep) of the hook's return, plus the probe's check.
    expect(recoveredMs!).toBeLessThanOrEqual(10_000 + 5_000);
    // During the outage: 50 failed at once, so one probe per 10 s and no delivery asked for alone; then each once.
    const probes = Math.ceil(125_000 / 10_000) + 1;
    expect(redeliveriesAtUp).toBeGreaterThan(0);
    expect(redeliveriesAtUp).toBeLessThanOrEqual(probes);
    expect(fake.redeliveries()).toBeLessThanOrEqual(probes + guids.length);
  });

  it("costs a page and a redelivery per 10 s of outage, however many deliveries failed", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    const recovery = sweepOnly(fake.github);
    const guids = Array.from({ length: 1_000 }, (_, i) => `big-${i}`);
    for (const guid of guids) fake.deliver(guid);
    for (; now < T0 + 600_000; now += 1_000) await recovery.maybeRun(new Date(now));
    // The first listing reads the 1,000 (10 pages); then each 10 s, one probe and one page of the log after it.
    const tenSeconds = 600_000 / 10_000;
    expect(fake.pages()).toBeLessThanOrEqual(10 + tenSeconds + 1);
    expect(fake.redeliveries()).toBeLessThanOrEqual(tenSeconds + 1);
    fake.setUp(true);
    for (; now <= T0 + 640_000; now += 1_000) await recovery.maybeRun(new Date(now));
    expect(guids.filter((guid) => !fake.delivered(guid))).toEqual([]);
  });

  it("probes with each held delivery in turn: one the scaler itself refuses doesn't hold the others back", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    const recovery = sweepOnly(fake.github);
    // The first to fail, so the first probe: refused even once the hook is back (its set's backlog is full).
    fake.refuse("refused");
    const guids = ["refused", ...Array.from({ length: 9 }, (_, i) => `fine-${i}`)];
    for (const guid of guids) fake.deliver(guid);
    const upAtMs = T0 + 60_000;
    for (; now <= upAtMs + 30_000; now += 1_000) {
      if (now === upAtMs) fake.setUp(true);
      await recovery.maybeRun(new Date(now));
    }
    expect(guids.filter((guid) => !fake.delivered(guid))).toEqual(["refused"]);
  });

  it("while it probes with a delivery the scaler refuses, still finds one lost meanwhile", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    fake.setUp(true);
    const recovery = sweepOnly(fake.github);
    fake.refuse("refused");
    fake.deliver("refused");
    let lostAtMs = 0;
    for (; now <= T0 + 180_000; now += 1_000) {
      if (now === T0 + 90_000) {
        // The refused one is probed every 10 s by now; then a delivery is lost on the way (the hook is up).
        fake.setUp(false);
        fake.deliver("lost-meanwhile");
        fake.setUp(true);
        lostAtMs = now;
      }
      await recovery.maybeRun(new Date(now));
      if (lostAtMs > 0 && fake.delivered("lost-meanwhile")) break;
    }
    expect(fake.delivered("lost-meanwhile")).toBe(true);
    // A listing within a probe cycle (10 s), then its own probe's cycle: within a 30 s sweep.
    expect(now - lostAtMs).toBeLessThanOrEqual(30_000);
  });

  it("takes any delivery answered after the probe went as the hook's return, not only the probe's", async () => {
    const clock = { now: T0 };
    // GitHub slow to redeliver (20 s): each probe is taken as lost before its attempt is made.
    const fake = fakeGitHub(() => clock.now, 20_000);
    const recovery = sweepOnly(fake.github);
    const guids = Array.from({ length: 20 }, (_, i) => `held-${i}`);
    for (const guid of guids) fake.deliver(guid);
    const { recoveredMs } = await sweepUntil(recovery, fake, clock, {
      guids,
      upAtMs: T0 + 62_000,
      untilMs: T0 + 400_000,
    });
    expect(recoveredMs).toBeDefined();
    // A lost probe's late attempt, answered 2xx, shows the hook is back; then every held one, 20 s each to make.
    // Heeding only the current probe's attempts (each lost in turn), the 20 came back one by one: 211 s.
    expect(recoveredMs!).toBeLessThanOrEqual(60_000);
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
    // The first three each once, then probes only (one per 10 s, each held delivery in turn): the 20 are not each
    // asked for while the hook is down.
    expect(atUp).toBeLessThanOrEqual(first.length + Math.ceil(180_000 / 10_000));
    // After: each still failed delivery once (the probe that got through is one of them).
    const afterUp = fake.askedFor(later, Number.POSITIVE_INFINITY) - fake.askedFor(later, upAtMs);
    expect(afterUp).toBeLessThanOrEqual(later.length);
  });

  it("looks again at a probe GitHub is slow to redeliver within seconds, not a sweep interval later", async () => {
    const clock = { now: T0 };
    // GitHub makes each redelivery 7 s after it is asked for: after the probe's first check (5 s).
    const fake = fakeGitHub(() => clock.now, 7_000);
    const recovery = sweepOnly(fake.github);
    const guids = Array.from({ length: 20 }, (_, i) => `slow-${i}`);
    for (const guid of guids) fake.deliver(guid);
    const { recoveredMs } = await sweepUntil(recovery, fake, clock, {
      guids,
      upAtMs: T0 + 62_000,
      untilMs: T0 + 300_000,
    });
    expect(recoveredMs).toBeDefined();
    // A probe at most 10 s after the return, 7 s until GitHub redelivers it, 5 s between looks, then the rest 7 s
    // later: well inside one 30 s sweep.
    expect(recoveredMs!).toBeLessThanOrEqual(10_000 + 7_000 + 5_000 + 7_000);
  });

  it("sends another probe when GitHub never makes the first one's redelivery", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    const recovery = sweepOnly(fake.github);
    const guids = Array.from({ length: 10 }, (_, i) => `lost-probe-${i}`);
    for (const guid of guids) fake.deliver(guid);
    fake.setUp(true);
    fake.loseNext(1);
    for (; now <= T0 + 60_000; now += 1_000) await recovery.maybeRun(new Date(now));
    // The lost probe is given 10 s, then another goes, arrives, and the rest follow: well inside a 30 s sweep.
    expect(guids.filter((guid) => !fake.delivered(guid))).toEqual([]);
  });

  it("asks again, a minute on, for a redelivery GitHub accepted and never made", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    const recovery = sweepOnly(fake.github);
    fake.deliver("accepted-then-lost");
    fake.setUp(true);
    fake.loseNext(1);
    for (; now <= T0 + 100_000; now += 1_000) await recovery.maybeRun(new Date(now));
    expect(fake.delivered("accepted-then-lost")).toBe(true);
    expect(fake.redeliveries()).toBe(2);
  });

  it("asks once for a delivery that fails while the hook answers (no probe, no repeat)", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    fake.setUp(true);
    const recovery = sweepOnly(fake.github);
    fake.setUp(false);
    fake.deliver("lost-once");
    fake.deliver("the-ping", "ping"); // never redelivered: only workflow_job deliveries are
    fake.setUp(true);
    for (; now <= T0 + 120_000; now += 1_000) {
      // One more lost after the first sweep had nothing left to ask for: the next sweep finds it.
      if (now === T0 + 45_000) {
        fake.setUp(false);
        fake.deliver("lost-later");
        fake.setUp(true);
      }
      await recovery.maybeRun(new Date(now));
    }
    expect(fake.delivered("lost-once")).toBe(true);
    expect(fake.delivered("lost-later")).toBe(true);
    expect(fake.delivered("the-ping")).toBe(false);
    expect(fake.redeliveries()).toBe(2);
  });

  it("asks once for a delivery GitHub redelivers late (after the next sweep) while the hook answers", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now, 45_000);
    const recovery = sweepOnly(fake.github);
    fake.deliver("slow");
    fake.setUp(true);
    for (; now <= T0 + 200_000; now += 1_000) {
      await recovery.maybeRun(new Date(now));
      fake.makeDue();
    }
    expect(fake.delivered("slow")).toBe(true);
    expect(fake.redeliveries()).toBe(1);
  });

  it("sends a probe first when 8 deliveries failed at once, and asks for 7 at once", async () => {
    for (const [count, firstSweep] of [
      [7, 7],
      [8, 1],
    ] as const) {
      let now = T0;
      const fake = fakeGitHub(() => now);
      const recovery = sweepOnly(fake.github);
      for (let i = 0; i < count; i++) fake.deliver(`d-${i}`);
      fake.setUp(true);
      await recovery.maybeRun(new Date(now));
      expect(fake.redeliveries(), `${count} failed`).toBe(firstSweep);
      for (now += 1_000; now <= T0 + 20_000; now += 1_000) await recovery.maybeRun(new Date(now));
      // The probe got through: the rest went, each once.
      expect(fake.redeliveries(), `${count} failed`).toBe(count);
    }
  });

  it("asks for 8 at once when a delivery was answered after they failed (the hook is up)", async () => {
    const now = T0;
    const fake = fakeGitHub(() => now);
    const recovery = sweepOnly(fake.github);
    for (let i = 0; i < 8; i++) fake.deliver(`dropped-${i}`);
    fake.setUp(true);
    fake.deliver("answered");
    await recovery.maybeRun(new Date(now));
    expect(fake.redeliveries()).toBe(8);
  });

  it("a new leader, from the saved cursor, still finds the deliveries held while the hook was down", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    let cursor: Date | undefined;
    const persisted = { load: () => cursor, save: (at: Date) => (cursor = at) };
    const first = sweepOnly(fake.github, { cursor: persisted });
    const guids = Array.from({ length: 12 }, (_, i) => `held-${i}`);
    for (const guid of guids) fake.deliver(guid);
    for (; now <= T0 + 200_000; now += 1_000) await first.maybeRun(new Date(now));
    expect(fake.redeliveries()).toBeLessThanOrEqual(Math.ceil(200_000 / 10_000) + 1);
    // The leader goes; the next one starts from the cursor the first saved, and the hook is back.
    const next = sweepOnly(fake.github, { cursor: persisted });
    fake.setUp(true);
    for (; now <= T0 + 260_000; now += 1_000) await next.maybeRun(new Date(now));
    expect(guids.filter((guid) => !fake.delivered(guid))).toEqual([]);
  });

  it("gives up on a delivery first failed longer ago than the lookback: no probe goes on for it", async () => {
    let now = T0;
    const fake = fakeGitHub(() => now);
    const recovery = sweepOnly(fake.github, { lookbackMs: 300_000 });
    fake.deliver("old");
    // The hook stays down: a probe every 10 s (each a newer failed attempt of the same delivery) for 5 minutes.
    for (; now <= T0 + 320_000; now += 1_000) await recovery.maybeRun(new Date(now));
    const probes = fake.redeliveries();
    expect(probes).toBeGreaterThan(20);
    for (; now <= T0 + 900_000; now += 1_000) await recovery.maybeRun(new Date(now));
    expect(fake.redeliveries()).toBe(probes);
    // Back up, it is still not redelivered: its job is the audit's now (a tombstone may be gone).
    fake.setUp(true);
    for (; now <= T0 + 1_000_000; now += 1_000) await recovery.maybeRun(new Date(now));
    expect(fake.delivered("old")).toBe(false);
  });
});
