// What the headers alone decide, before a byte of the body is read: a delivery without a JSON content type, an
// event name or a signature is refused at once, so a sender can't make the scaler buffer a body it will refuse.
import { untrustedText } from "../observe/untrusted.ts";

/** Header names in lower case. */
export type Headers = Readonly<Record<string, string | undefined>>;

/** Why a delivery was answered as it was: the `outcome` label of the webhook metrics (a fixed set). */
export type Outcome =
  | "unsupported-media-type"
  | "bad-request"
  | "unauthorized"
  | "too-large"
  | "busy"
  | "ping"
  | "ignored"
  | "no-match"
  | "foreign"
  | "backlog-full"
  | "recorded"
  | "duplicate"
  | "kubernetes-error"
  | "webhooks-off";

export interface Refusal {
  outcome: Outcome;
  status: number;
  message: string;
}

export function screenHeaders(headers: Headers): Refusal | undefined {
  const contentType = (headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (contentType !== "application/json") {
    return {
      outcome: "unsupported-media-type",
      status: 415,
      message: `expected Content-Type application/json, got ${JSON.stringify(untrustedText(contentType))}: set the webhook's content type to application/json`,
    };
  }
  if (!headers["x-github-event"]) {
    return { outcome: "bad-request", status: 400, message: "missing X-GitHub-Event header" };
  }
  if (!headers["x-hub-signature-256"]) {
    return {
      outcome: "unauthorized",
      status: 401,
      message: "missing X-Hub-Signature-256: set the webhook's secret",
    };
  }
  return undefined;
}
