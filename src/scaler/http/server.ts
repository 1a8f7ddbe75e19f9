// node:http adapter: routes, the body limit, connection limits, and status mapping. Everything else is
// transport-agnostic. The endpoint faces the internet, so what a sender can make the scaler hold is bounded: a
// request is refused on its headers before its body is read, bodies in flight share one byte budget, and the
// number of connections and the time each may take are capped.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Intake } from "../webhook/intake.ts";

/** GitHub caps webhook payloads at 25 MB, but a workflow_job is a few KB; 1 MB leaves room and bounds memory. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * What a sender can make the scaler hold. The defaults keep the worst case (every connection open, the body
 * budget full) well inside the chart's 256 Mi memory limit: 1,024 sockets of a few KB plus 32 MB of bodies.
 */
export interface HttpLimits {
  /** Largest body of one request; a larger one is answered 413. */
  maxBodyBytes: number;
  /** Bytes of bodies being read at once, over all requests; past it a delivery is answered 503 (GitHub retries). */
  bodyBudgetBytes: number;
  /** Open connections; the kernel's next ones are closed at once. */
  maxConnections: number;
  /** Time a client has to send the request headers. */
  headersTimeoutMs: number;
  /** Time a client has to send the whole request (GitHub itself gives a delivery 10 s). */
  requestTimeoutMs: number;
  /** How often node:http checks the two timeouts above: a slow sender is cut off at most this much later. */
  timeoutCheckMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxBodyBytes: MAX_BODY_BYTES,
  bodyBudgetBytes: 32 * 1024 * 1024,
  maxConnections: 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  timeoutCheckMs: 1_000,
};

/** Empty when ready; otherwise what is not ready yet, in words. */
export type Probe = () => Promise<string[]>;

export interface HttpOptions {
  intake: Intake;
  readiness: Probe;
  metrics: () => Promise<{ contentType: string; body: string }>;
  limits?: Partial<HttpLimits>;
  /** Called for each connection closed at once because maxConnections were open. */
  onConnectionDropped?: () => void;
  /**
   * What this listener answers: everything (default), only POST /webhook (the port the internet reaches), or only
   * /healthz, /readyz and /metrics (the kubelet's and Prometheus' port: a flood of webhook connections can't keep
   * the probes out).
   */
  serves?: "all" | "webhook" | "ops";
}

class BodyTooLarge extends Error {}
class BudgetSpent extends Error {}

/** Reads the body, calling `take(bytes)` for each chunk (it throws to stop); rejects if the client goes away. */
function readBody(request: IncomingMessage, limit: number, take: (bytes: number) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error: Error) => {
      // Stop reading; the connection is closed after the answer goes out.
      request.pause();
      request.removeAllListeners("data");
      reject(error);
    };
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return stop(new BodyTooLarge());
      try {
        take(chunk.length);
      } catch (error: unknown) {
        return stop(error as Error);
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
    // A client that disconnects mid-body: without this the promise (and what it holds) would never settle.
    request.on("close", () => {
      if (!request.complete)
        reject(new Error("the client closed the connection before the body was complete"));
    });
  });
}

function send(
  response: ServerResponse,
  status: number,
  body: string,
  contentType = "application/json",
): void {
  if (response.headersSent) return;
  response.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  response.end(body);
}

/** Answers without reading the rest of the body, and closes the connection once the answer is out. */
function sendAndClose(
  request: IncomingMessage,
  response: ServerResponse,
  answer: { status: number; body: string },
): void {
  response.setHeader("connection", "close");
  response.on("finish", () => request.destroy());
  send(response, answer.status, answer.body);
}

function json(message: string): string {
  return `${JSON.stringify({ message })}\n`;
}

function headersOf(request: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

export function createHttpServer({
  intake,
  readiness,
  metrics,
  limits: given = {},
  onConnectionDropped,
  serves = "all",
}: HttpOptions): Server {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...given };
  let budgetLeft = limits.bodyBudgetBytes;

  async function webhook(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const headers = headersOf(request);
    const refusal = intake.screen(headers);
    if (refusal) return sendAndClose(request, response, refusal);
    const tooLarge = () =>
      intake.refuse({
        outcome: "too-large",
        status: 413,
        message: `body is larger than ${limits.maxBodyBytes} bytes`,
      });
    const busy = () =>
      intake.refuse({
        outcome: "busy",
        status: 503,
        message: "too many deliveries in flight; GitHub shows this one failed and it is redelivered later",
      });
    const declared = request.headers["content-length"];
    const declaredBytes = declared === undefined ? undefined : Number(declared);
    if (declaredBytes !== undefined && declaredBytes > limits.maxBodyBytes) {
      return sendAndClose(request, response, tooLarge());
    }
    // A declared body takes its share of the budget up front; a chunked one chunk by chunk.
    let taken = 0;
    const take = (bytes: number) => {
      if (bytes > budgetLeft) throw new BudgetSpent();
      budgetLeft -= bytes;
      taken += bytes;
    };
    try {
      if (declaredBytes !== undefined) {
        try {
          take(declaredBytes);
        } catch {
          return sendAndClose(request, response, busy());
        }
      }
      let body: Buffer;
      try {
        body = await readBody(request, limits.maxBodyBytes, declaredBytes === undefined ? take : () => {});
      } catch (error: unknown) {
        if (error instanceof BodyTooLarge) return sendAndClose(request, response, tooLarge());
        if (error instanceof BudgetSpent) return sendAndClose(request, response, busy());
        // The client went away: nobody to answer.
        request.destroy();
        return;
      }
      const result = await intake.deliver({ headers, body });
      send(response, result.status, result.body);
    } finally {
      budgetLeft += taken;
    }
  }

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckMs,
    },
    async (request, response) => {
      const path = (request.url ?? "/").split("?")[0];
      try {
        if (serves === "webhook" && path !== "/webhook") {
          send(response, 404, json("not found: POST /webhook here; health and metrics are on the ops port"));
          return;
        }
        if (serves === "ops" && path === "/webhook") {
          send(
            response,
            404,
            json("not found: webhooks go to the webhook port; here GET /healthz, /readyz, /metrics"),
          );
          return;
        }
        if (path === "/webhook") {
          if (request.method !== "POST") {
            response.setHeader("allow", "POST");
            send(response, 405, json("POST webhooks here"));
            return;
          }
          await webhook(request, response);
          return;
        }
        if (request.method !== "GET" && request.method !== "HEAD") {
          send(response, 405, json("only GET here"));
          return;
        }
        if (path === "/healthz") {
          send(response, 200, "ok\n", "text/plain");
        } else if (path === "/readyz") {
          const problems = await readiness();
          send(
            response,
            problems.length === 0 ? 200 : 503,
            problems.length === 0 ? "ok\n" : `${problems.join("\n")}\n`,
            "text/plain",
          );
        } else if (path === "/metrics") {
          const { contentType, body } = await metrics();
          send(response, 200, body, contentType);
        } else {
          send(response, 404, json("not found: POST /webhook, GET /healthz, /readyz, /metrics"));
        }
      } catch (error: unknown) {
        send(
          response,
          500,
          json(`internal error: ${error instanceof Error ? error.message : String(error)}`),
        );
      }
    },
  );
  server.maxConnections = limits.maxConnections;
  server.keepAliveTimeout = 5_000;
  if (onConnectionDropped) server.on("drop", onConnectionDropped);
  return server;
}

/**
 * Stops accepting connections and resolves once every request in flight has been answered. Keep-alive
 * connections are closed as soon as they go idle, so a client's open connection can't hold shutdown up.
 */
export async function closeGracefully(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
  }
}
