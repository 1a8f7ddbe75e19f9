/**
 * zod schemas of the fields we use from GitHub responses. A response without the documented shape (a proxy
 * answering HTML, an API version change) fails here, naming the endpoint and the field, instead of letting
 * `undefined` travel into Kubernetes objects. Fields we do not use are dropped.
 */
import { z } from "zod";
import { fieldPath } from "../model/field-path.ts";
import type { RegisteredRunner, WebhookDelivery, WebhookDeliveryRecord } from "./types.ts";

export class ResponseShapeError extends Error {
  override name = "ResponseShapeError";
}

// Each schema's error message is what it expected; `read` adds the endpoint, the field and the value.
const expecting = (what: string) => ({ error: () => what });
const integer = z.int(expecting("an integer"));
const text = z.string(expecting("a string"));
const flag = z.boolean(expecting("a boolean"));
/** Absent and null both mean "none". */
const nullableText = z
  .string(expecting("a string or null"))
  .nullish()
  .transform((value) => value ?? null);
const isoDate = text.transform((value, context) => {
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    context.addIssue({ code: "custom", message: "an ISO 8601 date", input: value });
    return z.NEVER;
  }
  return new Date(time);
});
const list = <T extends z.ZodType>(item: T) => z.array(item, expecting("an array"));
const object = <S extends z.ZodRawShape>(shape: S) => z.object(shape, expecting("an object"));

export const installationShape = object({ id: integer });

const runner = object({
  id: integer,
  name: text,
  status: text,
  busy: flag,
  labels: list(object({ name: text })),
}).transform((value): RegisteredRunner => ({ ...value, labels: value.labels.map((label) => label.name) }));

export const runnersPageShape = object({ runners: list(runner) });

// runner_group.id is documented as a number, not an integer.
export const runnerGroupsPageShape = object({
  runner_groups: list(object({ id: z.number(expecting("a number")), name: text })),
});

export const jitConfigShape = object({
  runner: object({ id: integer, name: text }),
  encoded_jit_config: text,
});

const deliveryFields = {
  id: integer,
  guid: text,
  event: text,
  action: nullableText,
  delivered_at: isoDate,
  status_code: integer,
  installation_id: integer.nullish(),
};

const fromDelivery = (value: z.output<z.ZodObject<typeof deliveryFields>>): WebhookDelivery => ({
  id: value.id,
  guid: value.guid,
  event: value.event,
  action: value.action,
  deliveredAt: value.delivered_at,
  statusCode: value.status_code,
  installationId: value.installation_id ?? null,
});

const delivery = object(deliveryFields).transform(fromDelivery);

// The request's payload is the webhook body as JSON; GitHub documents it as an object or null.
export const deliveryRecordShape = object({
  ...deliveryFields,
  request: object({ payload: z.record(z.string(), z.unknown()).nullable() }),
}).transform((value): WebhookDeliveryRecord => ({ ...fromDelivery(value), payload: value.request.payload }));

export const deliveriesPageShape = list(delivery);

const repository = object({ full_name: text, archived: flag.optional() });
export const installationRepositoriesPageShape = object({ repositories: list(repository) });
export const orgRepositoriesPageShape = list(repository);

// A run's status is nullable in GitHub's description; a run without one is not active.
export const workflowRunsPageShape = object({
  workflow_runs: list(object({ id: integer, status: nullableText })),
});

export const runJobsPageShape = object({
  jobs: list(
    object({
      id: integer,
      run_id: integer,
      // Older GHES versions have no run_attempt: a first attempt.
      run_attempt: integer.optional(),
      status: text,
      labels: list(text),
      created_at: isoDate,
    }),
  ),
});

export const workflowJobShape = object({
  id: integer,
  status: text,
  conclusion: nullableText,
  runner_name: nullableText,
  labels: list(text),
});

/** The response body as `schema` reads it; otherwise a ResponseShapeError naming `where` and the first bad field. */
export function read<T extends z.ZodType>(schema: T, data: unknown, where: string): z.output<T> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const got = JSON.stringify(issue?.input)?.slice(0, 80);
  throw new ResponseShapeError(
    `GitHub ${where}: expected ${fieldPath(issue?.path ?? []) || "the response body"} to be ${issue?.message ?? "something else"}, got ${got}`,
  );
}
