// Hostile webhook traffic for tests and the abuse bench: what anyone who can reach the endpoint can send.
// Every request carries attacker-chosen header text; none of it is signed with the scaler's secret.
import { createHmac, randomBytes, randomInt } from "node:crypto";

/** Printable ASCII with the characters that matter to escaping (quotes, backslashes, braces) well represented. */
const ALPHABET = `abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "\\{}[]<>=,;:_-./`;

export function randomText(length: number): string {
  const bytes = randomBytes(length);
  let text = "";
  for (const byte of bytes) text += ALPHABET[byte % ALPHABET.length];
  return text;
}

export interface HostileRequest {
  kind: string;
  headers: Record<string, string>;
  body: string;
}

/** The kinds hostileRequest makes, in the order it cycles through them. */
export const HOSTILE_KINDS = [
  "missing-signature",
  "bad-signature",
  "wrong-secret",
  "garbage-signature",
  "wrong-content-type",
  "random-headers",
  "broken-json-unsigned",
] as const;

/**
 * The `n`th hostile request: a random event header of up to `headerBytes` characters (default 2 KB) and a random
 * delivery id, on a body that looks like a queued job of `jobId` for the runner set's labels.
 */
export function hostileRequest(n: number, { headerBytes = 2048, jobId = 900_000 + n } = {}): HostileRequest {
  const kind = HOSTILE_KINDS[n % HOSTILE_KINDS.length]!;
  const body = JSON.stringify({
    action: "queued",
    workflow_job: { id: jobId, run_id: jobId, run_attempt: 1, labels: ["self-hosted", "dind-k8s"] },
    repository: { full_name: "octo-org/example" },
  });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-github-event": randomText(randomInt(1, headerBytes)),
    "x-github-delivery": randomText(randomInt(1, headerBytes)),
  };
  switch (kind) {
    case "missing-signature":
      break;
    case "bad-signature":
      headers["x-hub-signature-256"] = `sha256=${randomBytes(32).toString("hex")}`;
      break;
    case "wrong-secret":
      headers["x-hub-signature-256"] =
        `sha256=${createHmac("sha256", randomText(16)).update(body).digest("hex")}`;
      break;
    case "garbage-signature":
      headers["x-hub-signature-256"] = randomText(randomInt(1, headerBytes));
      break;
    case "wrong-content-type":
      headers["content-type"] = randomText(randomInt(1, headerBytes));
      headers["x-hub-signature-256"] = `sha256=${randomBytes(32).toString("hex")}`;
      break;
    case "random-headers":
      for (let i = 0; i < 8; i++) headers[`x-${randomText(8).replace(/[^a-z0-9]/gi, "a")}`] = randomText(256);
      headers["x-hub-signature-256"] = `sha256=${randomBytes(32).toString("hex")}`;
      break;
    case "broken-json-unsigned":
      return { kind, headers, body: body.slice(0, randomInt(1, body.length)) };
  }
  return { kind, headers, body };
}

/** Sends the request with fetch; resolves with the status, or 0 when the server closed the connection. */
export async function sendHostile(url: string, request: HostileRequest): Promise<number> {
  try {
    const response = await fetch(`${url}/webhook`, {
      method: "POST",
      headers: request.headers,
      body: request.body,
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Runs `count` hostile requests, `concurrency` at a time; resolves with how many got each status. */
export async function flood(
  url: string,
  { count, concurrency = 16, headerBytes }: { count: number; concurrency?: number; headerBytes?: number },
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const status = await sendHostile(url, hostileRequest(next++, headerBytes ? { headerBytes } : {}));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

/**
 * The series of a Prometheus text exposition (name and labels, without the value). Left out: the runtime's
 * families labelled by its own state (active handles and requests by type, GC by kind), which change with load,
 * not with what a request says.
 */
export function metricSeries(exposition: string): string[] {
  return exposition
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .filter((line) => !/^nodejs_(active_|gc_duration_seconds)/.test(line))
    .map((line) => line.slice(0, line.lastIndexOf(" ")));
}
