// Transport-agnostic webhook intake: headers + raw body in, status + body out. Only http/ knows
// node:http. The answer is 2xx only once what the delivery asks for is durable in Kubernetes.
import { Webhooks } from "@octokit/webhooks";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import { untrustedText } from "../observe/untrusted.ts";
import { type ConfiguredOwner, foreignReason } from "./owner.ts";
import { routeJob } from "./route.ts";
import { type Headers, type Outcome, type Refusal, screenHeaders } from "./screen.ts";
import { PayloadError, parseWorkflowJob, type WorkflowJobEvent } from "./workflow-job.ts";

export interface WebhookRequest {
  /** Header names in lower case. */
  headers: Headers;
  body: Buffer;
}

export interface WebhookResponse {
  status: number;
  body: string;
}

/** What the intake needs from the store of runner Pods (kube/), so tests can hand in the real one or a fake. */
export interface JobRecorder {
  /**
   * Creates the gated runner Pod of a queued job. "exists" is a duplicate delivery; "backlog-full": the set has
   * its maxQueued queued Pods already, and nothing was written.
   */
  recordQueued(
    setName: string,
    job: WorkflowJobEvent,
  ): Promise<"created" | "exists" | "already-completed" | "backlog-full">;
  recordStarted(setName: string, job: WorkflowJobEvent): Promise<void>;
  recordCompleted(setName: string, job: WorkflowJobEvent): Promise<void>;
}

export interface IntakeOptions {
  /**
   * One secret, or two while rotating (the new first): a delivery signed with either is accepted. A function is
   * asked on every delivery, so secrets re-read from a file take effect at once.
   */
  secrets: readonly string[] | (() => readonly string[]);
  /**
   * false: this scaler takes no webhooks (intake poll with no webhook secret): every POST is refused 404 before its
   * body is read, and no secret is needed; take() works as ever. Default true.
   */
  webhooks?: boolean;
  runnerSets: readonly { name: string; labels: readonly string[] }[];
  /** Deliveries of any other account or installation are dropped (202) before anything is written. */
  owner: ConfiguredOwner;
  recorder: JobRecorder;
  log: Logger;
  metrics: Metrics;
}

export interface Intake {
  /** The headers alone: a refusal to send before reading the body, or undefined to read it. */
  screen(headers: Headers): WebhookResponse | undefined;
  /** A refusal the transport made on its own (a body over the limit, too many bodies in flight), counted. */
  refuse(refusal: Refusal & { outcome: "too-large" | "busy" }): WebhookResponse;
  /** The whole delivery. Its headers are screened again, so this alone is the complete intake. */
  deliver(request: WebhookRequest): Promise<WebhookResponse>;
  /**
   * A delivery read from GitHub's own delivery log (github.intake poll): it came from GitHub's API over TLS with
   * our credentials, so there is no signature to check; everything after the signature is as deliver() does it —
   * the owner check, routing, the durable gated Pod, idempotency by job id — and answered the same way.
   */
  take(delivery: LoggedDelivery): Promise<WebhookResponse & { outcome: Outcome }>;
}

export interface LoggedDelivery {
  event: string;
  /** GitHub's delivery GUID, for log lines. */
  guid: string;
  /** The webhook body, parsed. */
  payload: unknown;
}

/**
 * The event label of a delivery: what GitHub sent, from a fixed set, once the signature matched; before that
 * every delivery is "unverified", so request text never becomes a metric series.
 */
type EventLabel = "workflow_job" | "ping" | "other" | "unverified";

function eventLabel(event: string): EventLabel {
  return event === "workflow_job" || event === "ping" ? event : "other";
}

/** A job's conclusion as a label: GitHub's documented values; anything else is "other". */
const CONCLUSIONS = new Set([
  "success",
  "failure",
  "cancelled",
  "skipped",
  "timed_out",
  "action_required",
  "neutral",
  "stale",
  "startup_failure",
]);

function conclusionLabel(conclusion: string | null): string {
  if (conclusion === null) return "unknown";
  return CONCLUSIONS.has(conclusion) ? conclusion : "other";
}

function reply(status: number, message: string): WebhookResponse {
  return { status, body: `${JSON.stringify({ message })}\n` };
}

export function createIntake({
  secrets,
  webhooks = true,
  runnerSets,
  owner,
  recorder,
  log,
  metrics,
}: IntakeOptions): Intake {
  const currentSecrets = typeof secrets === "function" ? secrets : () => secrets;
  const usable = (list: readonly string[]) => list.length > 0 && list.every((secret) => secret.length > 0);
  const screen = (headers: Headers): Refusal | undefined =>
    webhooks
      ? screenHeaders(headers)
      : {
          outcome: "webhooks-off",
          status: 404,
          message:
            "this scaler takes no webhooks: github.intake is poll and no webhook secret is set (it reads GitHub's delivery log instead)",
        };
  if (webhooks && !usable(currentSecrets())) {
    throw new Error("a webhook secret is required: set github.webhookSecretFile or github.webhookSecretEnv");
  }
  let verifiers: { secrets: readonly string[]; webhooks: Webhooks[] } = { secrets: [], webhooks: [] };

  /** Which secret signed the body (0: the first, 1: the second), or undefined when none did. */
  async function signedWith(body: string, signature: string): Promise<number | undefined> {
    const list = currentSecrets();
    if (list !== verifiers.secrets && usable(list)) {
      verifiers = { secrets: list, webhooks: list.map((secret) => new Webhooks({ secret })) };
    }
    for (const [index, verifier] of verifiers.webhooks.entries()) {
      try {
        if (await verifier.verify(body, signature)) return index;
      } catch {
        // A malformed signature header is simply not a valid signature.
      }
    }
    return undefined;
  }

  const count = (label: EventLabel, name: Outcome, started: number) => {
    metrics.webhookDeliveries.inc({ event: label, outcome: name });
    metrics.webhookSeconds.observe({ event: label, outcome: name }, (performance.now() - started) / 1000);
  };
  const refused = (refusal: Refusal, started: number) => {
    count("unverified", refusal.outcome, started);
    return reply(refusal.status, refusal.message);
  };

  async function deliver({ headers, body }: WebhookRequest): Promise<WebhookResponse> {
    const started = performance.now();
    const refusal = screen(headers);
    if (refusal) return refused(refusal, started);
    const event = headers["x-github-event"] ?? "";
    const signature = headers["x-hub-signature-256"] ?? "";
    // The delivery id is never signed: a log line carries a bounded, escaped prefix of it.
    const delivery = untrustedText(headers["x-github-delivery"]);
    let label: EventLabel = "unverified";
    const outcome = (name: Outcome, response: WebhookResponse) => {
      count(label, name, started);
      return response;
    };
    const text = body.toString("utf8");
    const secretIndex = await signedWith(text, signature);
    if (secretIndex === undefined) {
      log.warn("webhook signature did not match", { deliveryId: delivery, event: untrustedText(event) });
      return outcome(
        "unauthorized",
        reply(401, "signature does not match: the webhook secret differs from the scaler's"),
      );
    }
    label = eventLabel(event);
    // Which secret matched, never its value: during a rotation, the day "second" stops showing the old one can go.
    const webhookSecret = secretIndex === 0 ? "first" : "second";
    metrics.webhookSecretMatches.inc({ secret: webhookSecret });
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return outcome("bad-request", reply(400, "body is not valid JSON"));
    }
    return handle(event, payload, { deliveryId: delivery, webhookSecret }, outcome, started);
  }

  /** A verified delivery's event: what deliver() does past the signature, and all take() does. */
  async function handle(
    event: string,
    payload: unknown,
    source: { deliveryId: string | undefined; webhookSecret?: "first" | "second" },
    outcome: (name: Outcome, response: WebhookResponse) => WebhookResponse,
    started: number,
  ): Promise<WebhookResponse> {
    if (event === "ping") return outcome("ping", reply(200, "pong"));
    if (event !== "workflow_job")
      return outcome("ignored", reply(202, `ignored event ${untrustedText(event)}`));

    let job: WorkflowJobEvent;
    try {
      job = parseWorkflowJob(payload);
    } catch (error: unknown) {
      if (error instanceof PayloadError) return outcome("bad-request", reply(400, error.message));
      throw error;
    }
    const context = { ...source, jobId: job.jobId, action: job.action };
    const foreign = foreignReason(job, owner);
    if (foreign) {
      metrics.webhookForeign.inc({ reason: foreign });
      log.debug("dropped a delivery of another account", {
        ...context,
        reason: foreign,
        repository: job.repository,
        installationId: job.installationId,
      });
      return outcome("foreign", reply(202, "ignored: not the configured account or installation"));
    }
    const set = routeJob(job.labels, runnerSets);
    if (!set) {
      log.debug("no runner set matches the job's labels", { ...context, labels: job.labels });
      return outcome("no-match", reply(202, `no runner set has all of the labels ${job.labels.join(", ")}`));
    }
    try {
      switch (job.action) {
        case "queued": {
          const result = await recorder.recordQueued(set.name, job);
          if (result === "backlog-full") {
            log.warn("runner set's backlog is full: answered 503, GitHub redelivers it later", {
              ...context,
              runnerSet: set.name,
            });
            return outcome(
              "backlog-full",
              reply(
                503,
                `runner set ${set.name} has its maxQueued queued jobs; redeliver later (raise maxQueued or maxRunners if this lasts)`,
              ),
            );
          }
          if (result === "created") metrics.jobsQueued.inc({ runner_set: set.name });
          // Body received to record written: the scaler's share of the delivery's latency.
          const durationMs = Math.round((performance.now() - started) * 100) / 100;
          // Logged once the answer is on its way: a log line is a synchronous write, and the sender waits.
          setImmediate(() => log.info("job queued", { ...context, runnerSet: set.name, result, durationMs }));
          return outcome(
            result === "created" ? "recorded" : "duplicate",
            reply(result === "created" ? 201 : 200, result),
          );
        }
        case "in_progress":
          await recorder.recordStarted(set.name, job);
          metrics.jobsStarted.inc({ runner_set: set.name });
          return outcome("recorded", reply(200, "started"));
        case "completed":
          await recorder.recordCompleted(set.name, job);
          metrics.jobsCompleted.inc({ runner_set: set.name, conclusion: conclusionLabel(job.conclusion) });
          return outcome("recorded", reply(200, "completed"));
        default:
          return outcome("ignored", reply(202, `ignored action ${job.action}`));
      }
    } catch (error: unknown) {
      // Tell GitHub the delivery failed, so it shows as failed and the redelivery sweep retries it.
      const message = error instanceof Error ? error.message : String(error);
      log.error("could not record the job in Kubernetes", {
        ...context,
        runnerSet: set.name,
        error: message,
      });
      return outcome(
        "kubernetes-error",
        reply(503, "could not record the job in Kubernetes; redeliver later"),
      );
    }
  }

  return {
    screen(headers) {
      const refusal = screen(headers);
      return refusal ? refused(refusal, performance.now()) : undefined;
    },
    refuse: (refusal) => refused(refusal, performance.now()),
    deliver,
    async take({ event, guid, payload }) {
      const started = performance.now();
      let named: Outcome = "ignored";
      const counted = (name: Outcome, answer: WebhookResponse) => {
        named = name;
        count(eventLabel(event), name, started);
        return answer;
      };
      const response = await handle(event, payload, { deliveryId: untrustedText(guid) }, counted, started);
      return { ...response, outcome: named };
    },
  };
}
