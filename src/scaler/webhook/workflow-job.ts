// The fields of a `workflow_job` webhook the scaler uses, checked at the edge so the rest of the code
// works with a typed value. GitHub sends many more; they are ignored.

export type WorkflowJobAction = "queued" | "in_progress" | "completed" | "waiting";

export interface WorkflowJobEvent {
  action: WorkflowJobAction;
  jobId: number;
  runId: number;
  runAttempt: number;
  labels: string[];
  /** owner/name */
  repository: string;
  workflowName: string | undefined;
  runnerName: string | null;
  conclusion: string | null;
}

export class PayloadError extends Error {
  override name = "PayloadError";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function wholeNumber(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new PayloadError(`${what}: expected a whole number, got ${JSON.stringify(value)}`);
  }
  return value;
}

const ACTIONS = new Set<string>(["queued", "in_progress", "completed", "waiting"]);

/** Parsed JSON → WorkflowJobEvent; throws PayloadError naming the first field that is wrong. */
export function parseWorkflowJob(payload: unknown): WorkflowJobEvent {
  if (!isRecord(payload)) throw new PayloadError("payload: expected a JSON object");
  const action = payload.action;
  if (typeof action !== "string" || !ACTIONS.has(action)) {
    throw new PayloadError(
      `action: expected one of queued, in_progress, completed, waiting, got ${JSON.stringify(action)}`,
    );
  }
  const job = payload.workflow_job;
  if (!isRecord(job)) throw new PayloadError("workflow_job: expected an object");
  const labels = job.labels;
  if (!Array.isArray(labels) || !labels.every((label) => typeof label === "string")) {
    throw new PayloadError("workflow_job.labels: expected a list of strings");
  }
  const repository = isRecord(payload.repository) ? payload.repository.full_name : undefined;
  if (typeof repository !== "string" || !repository.includes("/")) {
    throw new PayloadError("repository.full_name: expected owner/name");
  }
  const runnerName = job.runner_name;
  const conclusion = job.conclusion;
  return {
    action: action as WorkflowJobAction,
    jobId: wholeNumber(job.id, "workflow_job.id"),
    runId: wholeNumber(job.run_id, "workflow_job.run_id"),
    // Older GHES payloads have no run_attempt: a first attempt.
    runAttempt: job.run_attempt === undefined ? 1 : wholeNumber(job.run_attempt, "workflow_job.run_attempt"),
    labels: labels as string[],
    repository,
    workflowName: typeof job.workflow_name === "string" ? job.workflow_name : undefined,
    runnerName: typeof runnerName === "string" && runnerName !== "" ? runnerName : null,
    conclusion: typeof conclusion === "string" ? conclusion : null,
  };
}
