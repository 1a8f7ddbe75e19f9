// The delivery poll against a fake delivery log and a fake intake: which entries cost a call, the order they are
// taken in, where the cursor goes, and what a low rate-limit budget changes.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/scaler/observe/log.ts";
import { createMetrics } from "../../../src/scaler/observe/metrics.ts";
import {
  DEFAULT_POLL_TIMING,
  DeliveryPoll,
  type LogEntry,
  type PollOptions,
} from "../../../src/scaler/reconcile/poll.ts";
import type { LoggedDelivery } from "../../../src/scaler/webhook/intake.ts";

interface Entry extends LogEntry {
  payload: unknown;
}

function world(options: Partial<PollOptions> = {}) {
  const log: Entry[] = [];
  let nextId = 1000;
  const fetched: number[] = [];
  const failFetch = new Set<number>();
  const taken: LoggedDelivery[] = [];
  let intakeStatus = 201;
  let intakeDelayMs: (delivery: LoggedDelivery) => number = () => 0;
  let remaining: number | undefined;
  let cursor: number | undefined;
  const budget: [boolean, number][] = [];
  const metrics = createMetrics({ processMetrics: false });
  const add = (
    event: string,
    action: string | null,
    extra: Partial<Omit<Entry, "id" | "event" | "action">> = {},
  ) => {
    const entry: Entry = {
      id: nextId++,
      guid: `guid-${nextId}`,
      event,
      action,
      statusCode: 0,
      installationId: null,
      deliveredAt: new Date(),
      payload: { action, workflow_job: { id: nextId } },
      ...extra,
    };
    log.push(entry);
    return entry;
  };
  const poll = new DeliveryPoll({
    github: {
      async listWebhookDeliveriesAfter(afterId, since) {
        return log
          .filter((entry) => (afterId === undefined || entry.id > afterId) && entry.deliveredAt >= since)
          .reverse();
      },
      async getWebhookDelivery(id) {
        fetched.push(id);
        if (failFetch.has(id)) throw new Error("GitHub answered 502");
        return { payload: log.find((entry) => entry.id === id)!.payload };
      },
      rateLimitRemaining: () => remaining,
    },
    intake: {
      async take(delivery) {
        await new Promise((resolve) => setTimeout(resolve, intakeDelayMs(delivery)));
        taken.push(delivery);
        return {
          status: intakeStatus,
          body: "",
          outcome: intakeStatus === 503 ? "backlog-full" : "recorded",
        };
      },
    },
    mode: "poll",
    installationId: undefined,
    cursor: {
      load: () => cursor,
      save: (id) => {
        cursor = id;
      },
    },
    onBudget: (low, left) => budget.push([low, left]),
    log: silentLogger,
    metrics,
    timing: { ...DEFAULT_POLL_TIMING, intervalMs: 1000, lowRemaining: 100, slowFactor: 5 },
    ...options,
  });
  return {
    poll,
    add,
    fetched,
    failFetch,
    taken,
    budget,
    metrics,
    takenActions: () => taken.map((delivery) => (delivery.payload as { action: string }).action),
    setIntakeDelay: (delay: (delivery: LoggedDelivery) => number) => {
      intakeDelayMs = delay;
    },
    setIntakeStatus: (status: number) => {
      intakeStatus = status;
    },
    setRemaining: (left: number) => {
      remaining = left;
    },
    cursor: () => cursor,
    setCursor: (id: number) => {
      cursor = id;
    },
  };
}

describe("delivery poll", () => {
  it("fetches only workflow_job queued, in_progress and completed, and takes them in log order", async () => {
    const w = world();
    const queued = w.add("workflow_job", "queued");
    w.add("ping", null);
    w.add("workflow_job", "waiting");
    w.add("push", null);
    const started = w.add("workflow_job", "in_progress");
    const completed = w.add("workflow_job", "completed");
    expect(await w.poll.pollOnce()).toEqual({ listed: 6, fetched: 3, taken: 3 });
    expect(w.fetched).toEqual([queued.id, started.id, completed.id]);
    expect(w.takenActions()).toEqual(["queued", "in_progress", "completed"]);
    expect(w.taken.map((delivery) => delivery.guid)).toEqual([queued.guid, started.guid, completed.guid]);
    // Past every entry, the skipped ones too.
    expect(w.cursor()).toBe(completed.id);
    expect(await w.poll.pollOnce()).toEqual({ listed: 0, fetched: 0, taken: 0 });
  });

  it("takes several jobs at once, but one job's deliveries in log order", async () => {
    const w = world();
    const slow = (action: string, id: number) => ({ payload: { action, workflow_job: { id } } });
    w.add("workflow_job", "queued", slow("queued", 1));
    w.add("workflow_job", "queued", slow("queued", 2));
    w.add("workflow_job", "completed", slow("completed", 1));
    // The first queued takes longest: job 2 overtakes it, job 1's completed doesn't.
    w.setIntakeDelay((delivery) =>
      (delivery.payload as { workflow_job: { id: number } }).workflow_job.id === 1 &&
      (delivery.payload as { action: string }).action === "queued"
        ? 40
        : 0,
    );
    await w.poll.pollOnce();
    expect(
      w.taken
        .map((d) => d.payload as { workflow_job: { id: number }; action: string })
        .map((p) => `${p.workflow_job.id} ${p.action}`),
    ).toEqual(["2 queued", "1 queued", "1 completed"]);
  });

  it("reads on from the saved cursor: a restarted scaler takes nothing twice and misses nothing", async () => {
    const w = world();
    const old = w.add("workflow_job", "queued");
    w.setCursor(old.id);
    const fresh = w.add("workflow_job", "queued");
    await w.poll.pollOnce();
    expect(w.fetched).toEqual([fresh.id]);
  });

  it("with both, leaves what the webhook took (2xx) and fetches what failed", async () => {
    const w = world({ mode: "both" });
    w.add("workflow_job", "queued", { statusCode: 201 });
    w.add("workflow_job", "completed", { statusCode: 200 });
    const failed = w.add("workflow_job", "queued", { statusCode: 503 });
    const unreachable = w.add("workflow_job", "queued", { statusCode: 0 });
    await w.poll.pollOnce();
    expect(w.fetched).toEqual([failed.id, unreachable.id]);
  });

  it("poll alone takes a 2xx entry too (the hook's URL may be anyone's)", async () => {
    const w = world();
    const delivered = w.add("workflow_job", "queued", { statusCode: 200 });
    await w.poll.pollOnce();
    expect(w.fetched).toEqual([delivered.id]);
  });

  it("skips another installation's entries and a GUID it took before without a call", async () => {
    const w = world({ installationId: 7 });
    const ours = w.add("workflow_job", "queued", { installationId: 7 });
    w.add("workflow_job", "queued", { installationId: 8 });
    w.add("workflow_job", "queued", { guid: ours.guid, installationId: 7 });
    await w.poll.pollOnce();
    expect(w.fetched).toEqual([ours.id]);
  });

  it("a body it could not read holds the cursor back; the next poll reads only that one again", async () => {
    const w = world();
    const first = w.add("workflow_job", "queued");
    const broken = w.add("workflow_job", "queued");
    const third = w.add("workflow_job", "queued");
    w.failFetch.add(broken.id);
    expect(await w.poll.pollOnce()).toMatchObject({ fetched: 3, taken: 2 });
    expect(w.cursor()).toBe(first.id);
    w.failFetch.clear();
    await w.poll.pollOnce();
    expect(w.fetched).toEqual([first.id, broken.id, third.id, broken.id]);
    expect(w.cursor()).toBe(third.id);
  });

  it("a body intake answered 503 for is taken again from memory, without a GitHub call", async () => {
    const w = world();
    const job = w.add("workflow_job", "queued");
    w.setIntakeStatus(503);
    await w.poll.pollOnce();
    expect(w.cursor()).toBe(job.id);
    w.setIntakeStatus(201);
    await w.poll.pollOnce();
    expect(w.fetched).toEqual([job.id]);
    expect(w.taken.map((delivery) => delivery.guid)).toEqual([job.guid, job.guid]);
    await w.poll.pollOnce();
    expect(w.taken).toHaveLength(2);
  });

  it("below the budget threshold: slower, queued jobs only, said once per change", async () => {
    const w = world();
    w.setRemaining(99);
    const queued = w.add("workflow_job", "queued");
    w.add("workflow_job", "completed");
    await w.poll.pollOnce();
    await w.poll.pollOnce();
    expect(w.fetched).toEqual([queued.id]);
    expect(w.budget).toEqual([[true, 99]]);
    expect((await w.metrics.pollSlowed.get()).values[0]?.value).toBe(1);
    w.setRemaining(4000);
    const completed = w.add("workflow_job", "completed");
    await w.poll.pollOnce();
    expect(w.fetched).toEqual([queued.id, completed.id]);
    expect(w.budget).toEqual([
      [true, 99],
      [false, 4000],
    ]);
    expect((await w.metrics.pollSlowed.get()).values[0]?.value).toBe(0);
  });

  it("polls every interval, and every interval × slowFactor while the budget is low", async () => {
    const w = world({
      timing: { ...DEFAULT_POLL_TIMING, intervalMs: 40, lowRemaining: 100, slowFactor: 5 },
    });
    let lists = 0;
    const counting = w.poll as unknown as { pollOnce: () => Promise<unknown> };
    const original = counting.pollOnce.bind(w.poll);
    counting.pollOnce = () => {
      lists++;
      return original();
    };
    w.poll.start();
    await new Promise((resolve) => setTimeout(resolve, 330));
    const fast = lists;
    w.setRemaining(10);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = lists;
    await new Promise((resolve) => setTimeout(resolve, 400));
    await w.poll.stop();
    expect(fast).toBeGreaterThanOrEqual(6);
    // 200 ms apart now: two polls at most in 400 ms.
    expect(lists - before).toBeLessThanOrEqual(2);
  });
});
