// The redelivery sweep: GitHub does not retry a failed webhook delivery, so the leader lists the hook's failed
// workflow_job deliveries and asks GitHub to send each again. While the hook doesn't answer (an outage of the
// scaler or of the path to it) asking for each would only fail again: one redelivery goes alone as a probe, the
// rest wait for it, and until it gets through each probe costs two calls (the redelivery and one page of the log
// after it), whatever the backlog.
import { succeeded } from "../github/deliveries.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import { inBatches } from "./batches.ts";

export interface RedeliveryGitHub {
  listFailedWebhookDeliveries(
    since: Date,
  ): Promise<{ id: number; guid: string; event: string; deliveredAt: Date }[]>;
  redeliverWebhook(deliveryId: number): Promise<void>;
  /** The delivery log newest first, back to `afterId` (exclusive) or `since`. */
  listWebhookDeliveriesAfter(
    afterId: number | undefined,
    since: Date,
  ): Promise<{ id: number; guid: string; statusCode: number }[]>;
}

/** How soon after a probe redelivery the sweep looks whether it arrived (GitHub redelivers within seconds). */
const PROBE_CHECK_MS = 5_000;
/**
 * While the hook stays unreachable, the next probe goes this long after the last (or a sweep interval, if shorter):
 * it bounds how long the backlog waits once the hook is back, at two GitHub calls per probe (720 an hour of
 * outage). Measured: with a probe per 30 s sweep, 200 jobs started 55.8 s after a 120 s outage. A probe GitHub
 * hasn't redelivered within it counts as lost.
 */
const PROBE_RETRY_MS = 10_000;
/**
 * This many deliveries failed since the last sweep and none asked for yet: more likely an outage than a few lost
 * deliveries, so one is sent as a probe before the rest (costs PROBE_CHECK_MS when the hook does answer), unless
 * a delivery answered 2xx after them shows that it does.
 */
const PROBE_FIRST_AT = 8;
/** A redelivery GitHub accepted and hasn't made within this long (it makes them within seconds) is asked again. */
const LOST_REDELIVERY_MS = 60_000;
/** Redeliveries asked for at once. */
const REDELIVERY_CONCURRENCY = 8;
/** The probe's attempts are looked for from this long before it was sent: our clock and GitHub's may differ. */
const CLOCK_SKEW_MS = 60_000;

interface Asked {
  /** The attempt asked for (0: none yet, held behind a probe or lost): a newer failed one means it failed again. */
  id: number;
  /** When that attempt was made: the listing reaches back to it. */
  deliveredAt: Date;
  /** The first failure seen: past the lookback, the delivery is given up (the queued-job audit's). */
  firstAt: Date;
  /** When we asked: a redelivery not made within LOST_REDELIVERY_MS is asked for again. */
  askedAtMs: number;
  /** The newest attempt known: a probe redelivers it. */
  attemptId: number;
}

export interface SweepResult {
  /** Redeliveries asked for. */
  requested: number;
  /** When the next sweep is due, if sooner than the sweep interval (a probe to look at or to send again). */
  nextInMs?: number;
}

export class RedeliverySweep {
  readonly #github: RedeliveryGitHub;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #lookbackMs: number;
  readonly #cursor: { load(): Date | undefined; save(at: Date): void } | undefined;
  #since: Date | undefined;
  /** Deliveries asked for, or held behind a probe, by GUID, until they are no longer failed. */
  readonly #requested = new Map<string, Asked>();
  /**
   * Deliveries given up, by GUID, and when. A probe's newest attempt is recent, but its job may be long over:
   * redelivered, it would make a Pod for it.
   */
  readonly #gaveUp = new Map<string, number>();
  /**
   * The probe: the delivery redelivered alone, the newest entry of the log known when it went (its attempt will be
   * newer), and when; undefined when none is out.
   */
  #probe: { guid: string; afterId: number; sentAtMs: number } | undefined;
  /** After a probe failed or was lost: the attempt the next probe redelivers, sent without a listing. */
  #nextProbe: { guid: string; id: number; afterId: number } | undefined;
  /** The delivery the probes began with after the last listing: when their turn comes round to it, list again. */
  #roundStart: string | undefined;

  constructor(options: {
    github: RedeliveryGitHub;
    log: Logger;
    metrics: Metrics;
    lookbackMs: number;
    cursor?: { load(): Date | undefined; save(at: Date): void };
  }) {
    this.#github = options.github;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#lookbackMs = options.lookbackMs;
    this.#cursor = options.cursor;
  }

  async run(now: Date): Promise<SweepResult> {
    this.#giveUpOld(now);
    const probe = this.#probe;
    if (probe !== undefined) {
      const outcome = await this.#probeOutcome(probe, now);
      if (outcome === "waiting") return { requested: 0, nextInMs: PROBE_CHECK_MS };
      this.#probe = undefined;
      if (outcome === "arrived") {
        // The hook answers again: the listing brings every delivery held or failed meanwhile.
        return this.#sweep(now, true);
      }
      // Failed too (still unreachable), or lost: another goes PROBE_RETRY_MS after this one. The next held delivery
      // in turn, not the same: one the scaler itself refuses (its set's backlog full) would never get through.
      const asked = this.#requested.get(probe.guid);
      if (asked && outcome === "lost") asked.id = 0; // as never asked: it goes again with the rest
      if (asked && outcome !== "lost") asked.attemptId = outcome.id;
      const afterId = outcome === "lost" ? probe.afterId : outcome.newestId;
      this.#roundStart ??= probe.guid;
      const next = this.#heldAfter(probe.guid);
      // Each held delivery has been the probe since the last listing: the next sweep lists again, and finds the
      // deliveries that failed meanwhile (with a few held, as when the scaler refuses one, that is every probe).
      if (next && next.guid !== this.#roundStart) this.#nextProbe = { ...next, afterId };
      return { requested: 0, nextInMs: Math.max(0, probe.sentAtMs + PROBE_RETRY_MS - now.getTime()) };
    }
    const next = this.#nextProbe;
    if (next !== undefined) {
      this.#nextProbe = undefined;
      await this.#sendProbe(next, next.afterId, now);
      return { requested: 1, nextInMs: PROBE_CHECK_MS };
    }
    return this.#sweep(now, false);
  }

  /** The delivery held after this one (in the order they were recorded, wrapping around), to probe with next. */
  #heldAfter(guid: string): { guid: string; id: number } | undefined {
    const guids = [...this.#requested.keys()];
    if (guids.length === 0) return undefined;
    const next = guids[(guids.indexOf(guid) + 1) % guids.length]!;
    return { guid: next, id: this.#requested.get(next)!.attemptId };
  }

  /** A delivery whose first failure is past the lookback is the audit's now: no redelivery and no probe. */
  #giveUpOld(now: Date): void {
    const lookback = now.getTime() - this.#lookbackMs;
    for (const [guid, asked] of this.#requested) {
      if (asked.firstAt.getTime() >= lookback) continue;
      this.#requested.delete(guid);
      this.#gaveUp.set(guid, now.getTime());
      if (this.#probe?.guid === guid) this.#probe = undefined;
      if (this.#nextProbe?.guid === guid) this.#nextProbe = undefined;
      if (this.#roundStart === guid) this.#roundStart = undefined;
    }
    // A given-up GUID's newest attempt is no later than when we gave up: after a lookback no listing reaches it.
    for (const [guid, at] of this.#gaveUp)
      if (now.getTime() - at > this.#lookbackMs) this.#gaveUp.delete(guid);
  }

  /**
   * Only the log since the probe was asked for: one page, however many deliveries failed before it. Any delivery
   * answered 2xx there, the probe's or another's, says the hook answers again.
   */
  async #probeOutcome(
    probe: { guid: string; afterId: number; sentAtMs: number },
    now: Date,
  ): Promise<"arrived" | "waiting" | "lost" | { id: number; newestId: number }> {
    const log = await this.#logAfter(probe.afterId, new Date(probe.sentAtMs - CLOCK_SKEW_MS));
    if (log.some(succeeded)) return "arrived";
    const newest = log.find((entry) => entry.guid === probe.guid);
    if (newest !== undefined)
      return { id: newest.id, newestId: log.reduce((newest, entry) => Math.max(newest, entry.id), 0) };
    return now.getTime() - probe.sentAtMs >= PROBE_RETRY_MS ? "lost" : "waiting";
  }

  /** Whether the log has a delivery answered 2xx after this entry: then the hook answers, and none need wait. */
  async #answeredAfter(afterId: number, since: Date): Promise<boolean> {
    return (await this.#logAfter(afterId, since)).some(succeeded);
  }

  /** The delivery log after entry `afterId`, newest first (a page, as a rule). */
  async #logAfter(afterId: number, since: Date): Promise<{ id: number; guid: string; statusCode: number }[]> {
    const log = await this.#github.listWebhookDeliveriesAfter(afterId, since);
    this.#metrics.githubCalls.inc({ operation: "list-deliveries" });
    return log;
  }

  async #sendProbe(
    delivery: { guid: string; id: number; deliveredAt?: Date },
    afterId: number,
    now: Date,
  ): Promise<void> {
    await this.#ask(delivery, now);
    this.#probe = { guid: delivery.guid, afterId, sentAtMs: now.getTime() };
  }

  async #ask(delivery: { guid: string; id: number; deliveredAt?: Date }, now: Date): Promise<void> {
    await this.#github.redeliverWebhook(delivery.id);
    this.#metrics.githubCalls.inc({ operation: "redeliver" });
    this.#remember(delivery, delivery.id, now);
  }

  /** Records a delivery as asked for (`askedId`: the attempt asked for; 0: held, not asked yet). */
  #remember(delivery: { guid: string; id: number; deliveredAt?: Date }, askedId: number, now: Date): void {
    const before = this.#requested.get(delivery.guid);
    const deliveredAt = delivery.deliveredAt ?? before?.deliveredAt ?? now;
    this.#requested.set(delivery.guid, {
      id: askedId,
      deliveredAt,
      firstAt: before?.firstAt ?? deliveredAt,
      askedAtMs: now.getTime(),
      attemptId: delivery.id,
    });
  }

  /** The listing of failed deliveries, and what to ask for: all of them once a probe arrived. */
  async #sweep(now: Date, probeArrived: boolean): Promise<SweepResult> {
    const lookback = new Date(now.getTime() - this.#lookbackMs);
    let since = this.#since ?? this.#cursor?.load() ?? lookback;
    // Reach back to the oldest redelivery still unresolved: its failed attempt must stay in the listing.
    for (const asked of this.#requested.values()) if (asked.deliveredAt < since) since = asked.deliveredAt;
    if (since < lookback) since = lookback;
    const failed = (await this.#github.listFailedWebhookDeliveries(since)).filter(
      (d) => d.event === "workflow_job" && !this.#gaveUp.has(d.guid),
    );
    this.#metrics.githubCalls.inc({ operation: "list-deliveries" });
    const listed = new Set(failed.map((delivery) => delivery.guid));
    // Asked for, within the listing, and no longer failed: delivered.
    for (const [guid, asked] of this.#requested)
      if (!listed.has(guid) && asked.deliveredAt >= since) this.#requested.delete(guid);

    const fresh: typeof failed = [];
    const failedAgain: typeof failed = [];
    for (const delivery of failed) {
      const asked = this.#requested.get(delivery.guid);
      if (asked === undefined) fresh.push(delivery);
      else if (delivery.id > asked.id || now.getTime() - asked.askedAtMs >= LOST_REDELIVERY_MS)
        failedAgain.push(delivery);
    }
    const newestId = failed.reduce((newest, delivery) => Math.max(newest, delivery.id), 0);
    let toAsk: typeof failed = fresh;
    let result: SweepResult = { requested: 0 };
    if (probeArrived) {
      toAsk = [...fresh, ...failedAgain];
      if (toAsk.length > 0)
        this.#log.info("webhook deliveries arrive again: redelivering the ones that failed", {
          count: toAsk.length,
        });
    } else if (
      failedAgain.length > 0 ||
      (fresh.length >= PROBE_FIRST_AT && !(await this.#answeredAfter(newestId, since)))
    ) {
      // A redelivery failed, or many deliveries failed at once and none was answered since: the hook is likely
      // unreachable. One goes alone; the rest are held, recorded as never asked (id 0), so the listing reaches
      // back to them.
      const first = (failedAgain[0] ?? fresh[0])!;
      this.#roundStart = first.guid;
      await this.#sendProbe(first, newestId, now);
      for (const delivery of fresh) if (!this.#requested.has(delivery.guid)) this.#remember(delivery, 0, now);
      for (const delivery of failedAgain) this.#requested.get(delivery.guid)!.attemptId = delivery.id;
      this.#log.warn(
        "webhook deliveries fail; probing the hook with one redelivery before asking for the rest",
        {
          failedAgain: failedAgain.length,
          failed: fresh.length,
        },
      );
      toAsk = [];
      result = { requested: 1, nextInMs: PROBE_CHECK_MS };
    }
    // A few at a time: after an outage there are as many as jobs were queued, and each is one GitHub call.
    await inBatches(toAsk, REDELIVERY_CONCURRENCY, (delivery) => this.#ask(delivery, now));
    result.requested += toAsk.length;

    // Next time, look back only to a little before this sweep: deliveries that fail meanwhile are newer.
    this.#since = new Date(now.getTime() - 60_000);
    let cursor = this.#since;
    for (const asked of this.#requested.values()) if (asked.deliveredAt < cursor) cursor = asked.deliveredAt;
    this.#cursor?.save(cursor);
    if (result.requested > 0)
      this.#log.info("asked GitHub to redeliver failed webhook deliveries", { count: result.requested });
    return result;
  }
}
