// github.intake poll|both: jobs without inbound traffic. GitHub keeps a log of every delivery of our hook, failed
// ones included, with the body it sent; the leader reads what is new in it every interval, from a cursor kept on
// the Lease, and hands each workflow_job body it needs to the intake webhooks use (webhook/intake.ts take()): the
// same owner check, routing, durable gated Pod and idempotency by job id, so a job polled and delivered still has
// one Pod.
//
// Cost: one list call per interval (100 deliveries a page) and one call per delivery whose body is needed. What
// the list entry already tells is never fetched: other events and actions, other installations, what the webhook
// took (2xx, in `both`), a GUID taken before. Under a low rate-limit budget the poll slows down and fetches only
// queued jobs (the runner's exit and the audit settle the rest).
import { succeeded } from "../github/deliveries.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { Intake } from "../webhook/intake.ts";

export interface LogEntry {
  id: number;
  guid: string;
  event: string;
  action: string | null;
  statusCode: number;
  installationId: number | null;
  deliveredAt: Date;
}

export interface PollGitHub {
  listWebhookDeliveriesAfter(afterId: number | undefined, since: Date): Promise<LogEntry[]>;
  getWebhookDelivery(deliveryId: number): Promise<{ payload: unknown }>;
  rateLimitRemaining(): number | undefined;
}

export interface PollTiming {
  /** github.pollInterval. */
  intervalMs: number;
  /**
   * Without a cursor, or one older than this, the log is read back this far and no further: as for the redelivery
   * sweep, not past the tombstones' life (a queued job older than its tombstone would get a Pod again).
   */
  lookbackMs: number;
  /** Below this many requests left in the rate-limit window the poll slows down. */
  lowRemaining: number;
  /** How much longer the interval is then. */
  slowFactor: number;
  /** Delivery bodies fetched at once (the GitHub client's own concurrency bound applies too). */
  fetchConcurrency: number;
}

export const DEFAULT_POLL_TIMING: PollTiming = {
  intervalMs: 5_000,
  lookbackMs: 60 * 60_000,
  lowRemaining: 500,
  slowFactor: 6,
  fetchConcurrency: 8,
};

/** Why a log entry was or was not taken: the `decision` label (a fixed set). */
type Decision =
  | "taken"
  | "other-event"
  | "other-action"
  | "delivered"
  | "foreign"
  | "seen-guid"
  | "low-budget"
  | "fetch-failed"
  | "retry";

const ACTIONS = new Set(["queued", "in_progress", "completed"]);
/** GUIDs remembered so a redelivery of one taken before isn't fetched again. */
const GUIDS_KEPT = 20_000;
/** Bodies kept to retry when intake answered 503 (backlog full, Kubernetes error); the audit covers more. */
const RETRIES_KEPT = 5_000;

export interface PollOptions {
  github: PollGitHub;
  intake: Pick<Intake, "take">;
  /** both: the webhook takes what reaches us (2xx in the log), the poll the rest. */
  mode: "poll" | "both";
  /** The configured installation: entries of others are skipped without fetching them. */
  installationId: number | undefined;
  /** The id of the newest delivery handled (every older one is), e.g. an annotation of the leader Lease. */
  cursor: { load(): number | undefined; save(id: number): void };
  /** Told once per change when the rate-limit budget runs low or recovers (a Kubernetes Event). */
  onBudget?: (low: boolean, remaining: number, intervalMs: number) => void;
  log: Logger;
  metrics: Metrics;
  timing: PollTiming;
}

export interface PollResult {
  listed: number;
  fetched: number;
  taken: number;
}

export class DeliveryPoll {
  readonly #options: PollOptions;
  #stopped = true;
  /** Set by stop(): a poll in flight fetches no further body (a poll run on its own, by a test, is never halted). */
  #halted = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #cursor: number | undefined;
  /** Handled ids above the cursor (an earlier one failed to fetch and holds the cursor back). */
  readonly #done = new Set<number>();
  readonly #guids = new Set<string>();
  /** Bodies intake answered 503 for, by delivery id: taken again from memory next time. */
  readonly #retries = new Map<number, { guid: string; event: string; payload: unknown }>();
  #low = false;

  constructor(options: PollOptions) {
    this.#options = options;
  }

  /** Polls at once and then every interval, until stop(). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#halted = false;
    // A new leader reads the cursor another replica may have moved.
    this.#cursor = undefined;
    this.#done.clear();
    const loop = () => {
      if (this.#stopped) return;
      const started = Date.now();
      this.#running = this.pollOnce()
        .catch((error: unknown) => {
          this.#options.metrics.reconcileErrors.inc({ step: "poll" });
          this.#options.log.error("delivery poll failed", { error: String(error) });
        })
        .finally(() => {
          // Every interval from start to start: a long poll (a backlog of bodies) doesn't stretch the next wait.
          if (!this.#stopped) {
            this.#timer = setTimeout(loop, Math.max(0, this.#intervalMs() - (Date.now() - started)));
          }
        });
    };
    loop();
  }

  /** Stops polling; a poll in flight fetches no further body, takes the ones it has and saves its cursor. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#halted = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #intervalMs(): number {
    const { timing } = this.#options;
    return this.#low ? timing.intervalMs * timing.slowFactor : timing.intervalMs;
  }

  /** Slower below the budget threshold, said once per change. */
  #checkBudget(): void {
    const { github, timing, log, metrics, onBudget } = this.#options;
    const remaining = github.rateLimitRemaining();
    if (remaining === undefined) return;
    const low = remaining < timing.lowRemaining;
    if (low === this.#low) return;
    this.#low = low;
    metrics.pollSlowed.set(low ? 1 : 0);
    const intervalMs = this.#intervalMs();
    if (low) {
      log.warn("GitHub rate-limit budget low: the delivery poll slows down and fetches queued jobs only", {
        remaining,
        threshold: timing.lowRemaining,
        intervalMs,
      });
    } else
      log.info("GitHub rate-limit budget recovered: the delivery poll is back to its interval", {
        remaining,
        intervalMs,
      });
    onBudget?.(low, remaining, intervalMs);
  }

  #decide(entry: LogEntry): Decision | "fetch" {
    const { mode, installationId } = this.#options;
    if (entry.event !== "workflow_job") return "other-event";
    if (!ACTIONS.has(entry.action ?? "")) return "other-action";
    if (mode === "both" && succeeded(entry)) return "delivered";
    if (
      installationId !== undefined &&
      entry.installationId !== null &&
      entry.installationId !== installationId
    ) {
      return "foreign";
    }
    if (this.#guids.has(entry.guid)) return "seen-guid";
    if (this.#low && entry.action !== "queued") return "low-budget";
    return "fetch";
  }

  async pollOnce(now = new Date()): Promise<PollResult> {
    const { github, metrics, log, timing } = this.#options;
    this.#checkBudget();
    const result: PollResult = { listed: 0, fetched: 0, taken: 0 };
    await this.#retry();
    const since = new Date(now.getTime() - timing.lookbackMs);
    const afterId = this.#cursor ?? this.#options.cursor.load();
    const newestFirst = await github.listWebhookDeliveriesAfter(afterId, since);
    metrics.githubCalls.inc({ operation: "poll-list" });
    const listed = newestFirst.reverse();
    const fresh = listed.filter((entry) => !this.#done.has(entry.id));
    result.listed = fresh.length;

    const count = (decision: Decision) => metrics.pollDeliveries.inc({ decision });
    const wanted = new Map<number, LogEntry>();
    const guids = new Set<string>();
    for (const entry of fresh) {
      // A redelivery in the same page as its first attempt carries the same body: one fetch.
      const decision = guids.has(entry.guid) ? "seen-guid" : this.#decide(entry);
      if (decision === "fetch") {
        wanted.set(entry.id, entry);
        guids.add(entry.guid);
      } else count(decision);
    }
    const bodies = this.#fetchAhead([...wanted.values()], result);
    // Bodies are handed to intake as they arrive, several at once; the deliveries of one job one after the other.
    const taking: Promise<void>[] = [];
    const chains = new Map<string, Promise<void>>();
    let failed = false;
    let handledUpTo = afterId;
    for (const entry of listed) {
      if (wanted.has(entry.id)) {
        // Stopped (no longer leader): the bodies already asked for are taken, no other is fetched.
        const record = await bodies.next();
        if (record === "halted") break;
        metrics.githubCalls.inc({ operation: "poll-get" });
        if (record === undefined) {
          count("fetch-failed");
          failed = true;
          continue;
        }
        taking.push(this.#takeAfter(entry, record.payload, result, chains));
        count("taken");
      }
      this.#done.add(entry.id);
      // The cursor moves over every entry up to the first whose body could not be read.
      if (!failed) handledUpTo = entry.id;
    }
    await Promise.all(taking);
    if (handledUpTo !== undefined && handledUpTo !== afterId) {
      this.#cursor = handledUpTo;
      this.#options.cursor.save(handledUpTo);
      for (const id of this.#done) if (id <= handledUpTo) this.#done.delete(id);
    }
    if (result.taken > 0) log.debug("delivery poll", { ...result });
    return result;
  }

  /**
   * Bodies fetched a few at a time ahead of their turn; next() hands them out in order (undefined: could not be
   * read), so a job's queued is taken before its completed, each as soon as it and every older one are.
   */
  #fetchAhead(
    entries: LogEntry[],
    result: PollResult,
  ): { next(): Promise<{ payload: unknown } | undefined | "halted"> } {
    const { github, timing, log } = this.#options;
    const fetches: Promise<{ payload: unknown } | undefined>[] = [];
    const fill = () => {
      while (
        !this.#halted &&
        fetches.length < entries.length &&
        fetches.length - result.fetched < timing.fetchConcurrency
      ) {
        const entry = entries[fetches.length]!;
        fetches.push(
          github.getWebhookDelivery(entry.id).catch((error: unknown) => {
            log.warn("could not read a delivery of the log; the poll tries again", {
              deliveryId: entry.id,
              error: String(error),
            });
            return undefined;
          }),
        );
      }
    };
    fill();
    return {
      async next() {
        const fetching = fetches[result.fetched];
        if (fetching === undefined) return "halted";
        const record = await fetching;
        result.fetched++;
        fill();
        return record;
      },
    };
  }

  /** Takes the body once the delivery of the same job before it (in log order) is taken. */
  #takeAfter(
    entry: LogEntry,
    payload: unknown,
    result: PollResult,
    chains: Map<string, Promise<void>>,
  ): Promise<void> {
    const job = (payload as { workflow_job?: { id?: unknown } } | null)?.workflow_job?.id;
    const key = typeof job === "number" ? String(job) : `delivery-${entry.id}`;
    const taken = (chains.get(key) ?? Promise.resolve()).then(() => this.#take(entry, payload, result));
    chains.set(key, taken);
    return taken;
  }

  async #take(entry: LogEntry, payload: unknown, result: PollResult): Promise<void> {
    const answer = await this.#options.intake.take({ event: entry.event, guid: entry.guid, payload });
    this.#remember(entry.guid);
    if (answer.status >= 500) this.#keepForRetry(entry, payload);
    else result.taken++;
    this.#options.metrics.pollLagSeconds.observe(
      Math.max(0, Date.now() - entry.deliveredAt.getTime()) / 1000,
    );
  }

  #remember(guid: string): void {
    this.#guids.add(guid);
    if (this.#guids.size > GUIDS_KEPT) this.#guids.delete(this.#guids.values().next().value!);
  }

  #keepForRetry(entry: LogEntry, payload: unknown): void {
    this.#retries.set(entry.id, { guid: entry.guid, event: entry.event, payload });
    if (this.#retries.size > RETRIES_KEPT) {
      const [oldest] = this.#retries.keys();
      this.#retries.delete(oldest!);
      this.#options.log.warn(
        "too many polled deliveries waiting to be taken again; the audit finds the rest",
        {
          dropped: oldest,
        },
      );
    }
  }

  /** Bodies intake could not take last time (backlog full, Kubernetes error), from memory: no GitHub call. */
  async #retry(): Promise<void> {
    for (const [id, delivery] of this.#retries) {
      if (this.#halted) return;
      const answer = await this.#options.intake.take(delivery);
      this.#options.metrics.pollDeliveries.inc({ decision: "retry" });
      if (answer.status < 500) this.#retries.delete(id);
      // Still full: the rest would be answered the same.
      else if (answer.outcome === "backlog-full") return;
    }
  }
}
