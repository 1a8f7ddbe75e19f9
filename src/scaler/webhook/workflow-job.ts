// The fields of a `workflow_job` webhook the scaler uses, checked at the edge with a zod schema so the rest of
// the code works with a typed value. GitHub sends many more; they are ignored.
import { z } from "zod";
import { fieldPath } from "../model/field-path.ts";

export type WorkflowJobAction = "queued" | "in_progress" | "completed" | "waiting";

export interface WorkflowJobEvent {
  action: WorkflowJobAction;
  jobId: number;
  runId: number;
  runAttempt: number;
  labels: string[];
  /** owner/name */
  repository: string;
  /** The GitHub App installation that sent it; absent for an org or repository webhook. */
  installationId: number | undefined;
  workflowName: string | undefined;
  runnerName: string | null;
  /** The id of the runner that took it: tells this runner from an earlier one of the same name. */
  runnerId: number | null;
  conclusion: string | null;
}

export class PayloadError extends Error {
  override name = "PayloadError";
}

// Each schema's error message says what it expected; parseWorkflowJob adds the field and what it got.
const expecting = (what: string) => ({ error: () => what });
const wholeNumber = z.int(expecting("a whole number")).min(0, expecting("a whole number"));
// Informational fields: a value of another type is read as absent, never a reason to refuse the delivery.
const optionalText = z.string().optional().catch(undefined);

const payloadSchema = z.object(
  {
    action: z.enum(["queued", "in_progress", "completed", "waiting"], {
      error: () => "one of queued, in_progress, completed, waiting",
    }),
    workflow_job: z.object(
      {
        id: wholeNumber,
        run_id: wholeNumber,
        // Older GHES payloads have no run_attempt: a first attempt.
        run_attempt: wholeNumber.optional(),
        labels: z.array(z.string(expecting("a string")), expecting("a list of strings")),
        workflow_name: optionalText,
        runner_name: optionalText,
        runner_id: z.int().min(1).nullable().optional().catch(undefined),
        conclusion: optionalText,
      },
      expecting("an object"),
    ),
    repository: z.object(
      {
        full_name: z
          .string(expecting("owner/name"))
          .refine((name) => name.includes("/"), expecting("owner/name")),
      },
      expecting("an object with full_name"),
    ),
    installation: z.object({ id: wholeNumber }, expecting("an object with id")).optional(),
  },
  expecting("a JSON object"),
);

/** Parsed JSON → WorkflowJobEvent; throws PayloadError naming the first field that is wrong. */
export function parseWorkflowJob(payload: unknown): WorkflowJobEvent {
  const result = payloadSchema.safeParse(payload, { reportInput: true });
  if (!result.success) {
    const issue = result.error.issues[0];
    const got = issue?.input === undefined ? "nothing" : JSON.stringify(issue.input).slice(0, 80);
    throw new PayloadError(
      `${fieldPath(issue?.path ?? []) || "payload"}: expected ${issue?.message}, got ${got}`,
    );
  }
  const { action, workflow_job: job, repository, installation } = result.data;
  return {
    action,
    jobId: job.id,
    runId: job.run_id,
    runAttempt: job.run_attempt ?? 1,
    labels: job.labels,
    repository: repository.full_name,
    installationId: installation?.id,
    workflowName: job.workflow_name,
    runnerName: job.runner_name ? job.runner_name : null,
    runnerId: job.runner_id ?? null,
    conclusion: job.conclusion ?? null,
  };
}
