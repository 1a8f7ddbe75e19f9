// Recorded GitHub payloads (from @octokit/webhooks-examples), re-labelled for our runner sets and
// signed like GitHub signs them (HMAC-SHA256 of the exact body, hex, "sha256=" prefix).
import { createHmac, randomUUID } from "node:crypto";
import examples from "@octokit/webhooks-examples/api.github.com/index.json" with { type: "json" };

type Example = Record<string, unknown> & { action: string; workflow_job: Record<string, unknown> };

const workflowJobExamples = (examples as { name: string; examples: Example[] }[]).find(
  (entry) => entry.name === "workflow_job",
)!.examples;

export function sign(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface JobPayloadOptions {
  action: "queued" | "in_progress" | "completed" | "waiting";
  jobId: number;
  runId?: number;
  runAttempt?: number;
  labels?: string[];
  runnerName?: string | null;
  /** The id of the runner that took the job; none unless given (runner_id null). */
  runnerId?: number | null;
  conclusion?: string | null;
  repository?: string;
}

/** A recorded workflow_job payload of that action with our ids and labels put in. */
export function workflowJobPayload(options: JobPayloadOptions): Record<string, unknown> {
  const recorded =
    workflowJobExamples.find((example) => example.action === options.action) ?? workflowJobExamples[0]!;
  const copy = structuredClone(recorded);
  const [owner, name] = (options.repository ?? "octo-org/example-workflow").split("/");
  copy.repository = { ...(copy.repository as Record<string, unknown>), full_name: `${owner}/${name}`, name };
  copy.workflow_job = {
    ...copy.workflow_job,
    id: options.jobId,
    run_id: options.runId ?? options.jobId * 10,
    run_attempt: options.runAttempt ?? 1,
    labels: options.labels ?? ["self-hosted", "dind-k8s"],
    status: options.action,
    runner_name: options.runnerName ?? null,
    runner_id: options.runnerId ?? null,
    conclusion: options.action === "completed" ? (options.conclusion ?? "success") : null,
  };
  return copy;
}

export interface Delivery {
  status: number;
  body: string;
}

export async function deliver(
  url: string,
  event: string,
  payload: unknown,
  { secret, headers = {} }: { secret: string | undefined; headers?: Record<string, string> },
): Promise<Delivery> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const response = await fetch(`${url}/webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/test",
      "x-github-event": event,
      "x-github-delivery": randomUUID(),
      ...(secret === undefined ? {} : { "x-hub-signature-256": sign(body, secret) }),
      ...headers,
    },
    body,
  });
  return { status: response.status, body: await response.text() };
}
