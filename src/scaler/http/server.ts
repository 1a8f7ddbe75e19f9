// node:http adapter: routes, the body limit, and status mapping. Everything else is transport-agnostic.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Intake } from "../webhook/intake.ts";

/** GitHub caps webhook payloads at 25 MB, but a workflow_job is a few KB; 1 MB leaves room and bounds memory. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Empty when ready; otherwise what is not ready yet, in words. */
export type Probe = () => Promise<string[]>;

export interface HttpOptions {
  intake: Intake;
  readiness: Probe;
  metrics: () => Promise<{ contentType: string; body: string }>;
  maxBodyBytes?: number;
}

class BodyTooLarge extends Error {}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        // Stop reading; the connection is closed after the 413 goes out.
        request.pause();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
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

function json(message: string): string {
  return `${JSON.stringify({ message })}\n`;
}

export function createHttpServer({
  intake,
  readiness,
  metrics,
  maxBodyBytes = MAX_BODY_BYTES,
}: HttpOptions): Server {
  const server = createServer(async (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    try {
      if (path === "/webhook") {
        if (request.method !== "POST") {
          response.setHeader("allow", "POST");
          send(response, 405, json("POST webhooks here"));
          return;
        }
        const declared = Number(request.headers["content-length"] ?? Number.NaN);
        if (declared > maxBodyBytes) {
          // Refuse before reading a byte of it.
          response.setHeader("connection", "close");
          send(response, 413, json(`body is larger than ${maxBodyBytes} bytes`));
          request.destroy();
          return;
        }
        let body: Buffer;
        try {
          body = await readBody(request, maxBodyBytes);
        } catch (error: unknown) {
          if (error instanceof BodyTooLarge) {
            response.setHeader("connection", "close");
            send(response, 413, json(`body is larger than ${maxBodyBytes} bytes`));
            response.on("finish", () => request.destroy());
            return;
          }
          throw error;
        }
        const headers: Record<string, string | undefined> = {};
        for (const [name, value] of Object.entries(request.headers)) {
          headers[name] = Array.isArray(value) ? value.join(", ") : value;
        }
        const result = await intake({ headers, body });
        send(response, result.status, result.body);
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
      send(response, 500, json(`internal error: ${error instanceof Error ? error.message : String(error)}`));
    }
  });
  // Slow or stuck clients must not hold sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
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
