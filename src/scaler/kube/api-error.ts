// The one place where a failed Kubernetes call becomes our error type. client-node reports an apiserver's answer
// as an ApiException (status code, body as text, response headers) and a watch that could not start as an Error
// with a statusCode; both turn into a KubeApiError here, with the apiserver's Status reason and message and the
// Retry-After that whileThrottled waits out. Anything else (no connection, a timeout, a failed credential plugin)
// is described with its cause, so a log line says what happened instead of "fetch failed".
import { ApiException } from "@kubernetes/client-node";

/** The apiserver answered with an error status. `reason` and `detail` come from its Status body. */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  readonly status: number;
  /** The Status reason (AlreadyExists, Conflict, Forbidden, …), when the body was a Status. */
  readonly reason: string | undefined;
  /** The apiserver's own words (the Status message), or the start of the body. */
  readonly detail: string;
  /** Seconds, from the Retry-After header (429/503), when there was one. */
  readonly retryAfterS: number | undefined;

  constructor(fields: {
    status: number;
    reason?: string | undefined;
    detail: string;
    retryAfterS?: number | undefined;
  }) {
    super(`HTTP ${fields.status}${fields.detail ? `: ${fields.detail}` : ""}`);
    this.status = fields.status;
    this.reason = fields.reason;
    this.detail = fields.detail;
    this.retryAfterS = fields.retryAfterS;
  }
}

const mapped = new WeakMap<object, KubeApiError>();

/** The apiserver's answer inside a client-node error, or undefined for anything else (network, timeout, a bug). */
export function kubeApiError(error: unknown): KubeApiError | undefined {
  if (error instanceof KubeApiError) return error;
  if (typeof error !== "object" || error === null) return undefined;
  const known = mapped.get(error);
  if (known) return known;
  let result: KubeApiError | undefined;
  if (error instanceof ApiException) {
    result = fromApiException(error as ApiException<unknown>);
  } else if (typeof (error as { statusCode?: unknown }).statusCode === "number") {
    // Watch: a non-200 answer to the watch request, without its body.
    const status = (error as { statusCode: number }).statusCode;
    result = new KubeApiError({ status, detail: (error as Error).message ?? "" });
  }
  if (result) mapped.set(error, result);
  return result;
}

function fromApiException(error: ApiException<unknown>): KubeApiError {
  const text =
    typeof error.body === "string" ? error.body : error.body === undefined ? "" : String(error.body);
  let reason: string | undefined;
  let detail = text.slice(0, 300);
  try {
    const status = JSON.parse(text) as { kind?: string; reason?: string; message?: string };
    if (status.kind === "Status") {
      reason = status.reason;
      detail = status.message ?? detail;
    }
  } catch {
    // Not a Status (a proxy's HTML page, say): keep the start of the text.
  }
  if (error.code === 401 && !detail) {
    // client-node drops the body of a 401; say what it means.
    reason = "Unauthorized";
    detail =
      "Unauthorized: the apiserver did not accept the credentials (expired token? wrong user in the kubeconfig?)";
  }
  const header = error.headers?.["retry-after"];
  const retryAfter = Number(header);
  return new KubeApiError({
    status: error.code,
    reason,
    detail,
    retryAfterS:
      header !== undefined && header !== "" && Number.isFinite(retryAfter) ? retryAfter : undefined,
  });
}

/** The HTTP status of an apiserver error, or undefined for anything else. */
export function kubeStatus(error: unknown): number | undefined {
  return kubeApiError(error)?.status;
}

/** One line for a log or an error message: the apiserver's words, or what went wrong on the way there. */
export function describeKubeError(error: unknown): string {
  const api = kubeApiError(error);
  if (api) return api.message;
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError") return "no answer in time (is the apiserver reachable?)";
  // fetch reports "fetch failed" and keeps what happened (ECONNREFUSED, a certificate problem) in its cause.
  const cause = error.cause instanceof Error ? error.cause : undefined;
  if (!cause) return error.message;
  const code = (cause as NodeJS.ErrnoException).code;
  return `${error.message}: ${cause.message}${code && !cause.message.includes(code) ? ` (${code})` : ""}`;
}

/** A Kubernetes call failed in a way the caller cannot treat as success; the message says which and why. */
export class KubeError extends Error {
  readonly status: number | undefined;
  constructor(what: string, error: unknown) {
    super(`${what}: ${describeKubeError(error)}`, { cause: error });
    this.name = "KubeError";
    this.status = kubeStatus(error);
  }
}
