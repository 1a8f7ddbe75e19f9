import { readFile } from "node:fs/promises";
import type {
  ClientRequest,
  IncomingHttpHeaders,
  IncomingMessage,
  RequestOptions as NodeRequestOptions,
} from "node:http";
import { join } from "node:path";
import type { Endpoint, TlsSettings } from "./endpoint.ts";
import { classifyError, DockerApiError } from "./errors.ts";
import type { ContainerSummary, DockerInfo, DockerVersion, NetworkInspect, SystemDf } from "./types.ts";

/** What /_ping's headers say; undefined where an engine does not send them. */
export interface PingAnswer {
  apiVersion: string | undefined;
  serverVersion: string | undefined;
}

export interface RequestOptions {
  /** Whole request, connect to last body byte. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface ClientOptions {
  /**
   * Bodies larger than this fail with "bad-response" instead of filling memory. The largest answer this
   * project reads is /system/df of a busy daemon: a few MB.
   */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

async function readTlsMaterial(tls: TlsSettings): Promise<TlsMaterial> {
  const material: Partial<TlsMaterial> = {};
  for (const name of ["ca", "cert", "key"] as const) {
    const path = join(tls.certDir, `${name}.pem`);
    try {
      material[name] = await readFile(path);
    } catch (error) {
      // Only the path goes into the message, never the content.
      throw new DockerApiError("tls-material-missing", `TLS material missing: cannot read ${path}`, {
        cause: error,
      });
    }
  }
  return material as TlsMaterial;
}

type RequestFunction = (options: NodeRequestOptions) => ClientRequest;

/**
 * node:https (and node:tls under it) is loaded only for a TLS endpoint: the usual endpoint is a unix socket,
 * and the step's start-up time is part of what a job waits for.
 */
async function requestFunction(endpoint: Endpoint): Promise<RequestFunction> {
  if (endpoint.kind === "tcp" && endpoint.tls) return (await import("node:https")).request;
  return (await import("node:http")).request;
}

/** Where and how node:http connects for this endpoint; TLS files are read now, not once. */
async function connectOptions(endpoint: Endpoint): Promise<NodeRequestOptions> {
  if (endpoint.kind === "unix") return { socketPath: endpoint.socketPath };
  const options: NodeRequestOptions & { rejectUnauthorized?: boolean } = {
    host: endpoint.host,
    port: endpoint.port,
  };
  if (endpoint.tls) {
    // Read on every request: docker:dind writes the files when it starts, maybe after us.
    Object.assign(options, await readTlsMaterial(endpoint.tls), { rejectUnauthorized: endpoint.tls.verify });
  }
  return options;
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

/**
 * A small Docker Engine API client on node:http / node:https. Each request opens its own connection
 * (`agent: false`, so `Connection: close`): while the action waits, a try that fails leaves nothing
 * behind, a later try never lands on a pooled socket of a daemon that has since gone, and nothing keeps
 * the process alive once the answer is in. Measured on the 2-core CI machine under load (median of 200
 * sequential /_ping): unix socket 0.27 ms fresh vs 0.10 ms pooled; TLS 4.1 ms fresh vs 0.17 ms pooled.
 * The action's requests after the daemon answered go out in parallel, so a pool would save at most
 * one connection: ~0.2 ms on the usual unix socket, one handshake with TLS.
 */
export class DockerClient {
  readonly endpoint: Endpoint;
  readonly #maxBodyBytes: number;

  constructor(endpoint: Endpoint, options: ClientOptions = {}) {
    this.endpoint = endpoint;
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /** GET `path`, returning the body as text on 2xx; every failure becomes a DockerApiError. */
  async getText(path: string, options: RequestOptions): Promise<string> {
    return (await this.get(path, options)).body;
  }

  /** GET `path` with the response headers; every failure becomes a DockerApiError. */
  async get(
    path: string,
    options: RequestOptions,
  ): Promise<{ body: string; headers: Record<string, string> }> {
    const endpoint = this.endpoint;
    const maxBodyBytes = this.#maxBodyBytes;
    const aborted = () => new DockerApiError("aborted", "request aborted");
    if (options.signal?.aborted) throw aborted();
    const started = performance.now();
    const [request, connect] = await Promise.all([requestFunction(endpoint), connectOptions(endpoint)]);
    // Loading node:http or reading the TLS files counts against the timeout, as connecting does.
    const timeoutMs = Math.max(1, options.timeoutMs - (performance.now() - started));
    if (options.signal?.aborted) throw aborted();

    return await new Promise((resolve, reject) => {
      let connected = false;
      let responded = false;
      let settled = false;
      const finish = (error: unknown, result?: { body: string; headers: Record<string, string> }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        req.destroy();
        if (error !== undefined)
          return reject(classifyError(closedEarly(error, responded, endpoint), endpoint));
        if (result !== undefined) resolve(result);
      };
      let req: ClientRequest;
      try {
        req = request({
          ...connect,
          method: "GET",
          path,
          headers: { "User-Agent": "dind-setup", Accept: "application/json" },
          agent: false,
        });
      } catch (error) {
        // node:https builds the TLS context here and throws at once on files that are not PEM.
        return reject(classifyError(error, endpoint));
      }
      const timer = setTimeout(() => {
        // "connected" tells a daemon that is still starting (it accepts, but does not serve yet)
        // from one that cannot be reached at all.
        const state = connected ? "connected, but the daemon has not answered yet" : "could not connect";
        finish(new DockerApiError("timeout", `no answer within ${options.timeoutMs} ms (${state})`));
      }, timeoutMs);
      const onAbort = () => finish(aborted());
      options.signal?.addEventListener("abort", onAbort, { once: true });
      req.once("socket", (socket) => {
        if (!socket.connecting) connected = true;
        else socket.once("connect", () => (connected = true));
      });
      req.on("error", (error) => finish(error));
      req.once("response", (response: IncomingMessage) => {
        responded = true;
        response.on("error", (error) => finish(error));
        const announced = Number(response.headers["content-length"]);
        if (announced > maxBodyBytes) return finish(tooLarge(path, maxBodyBytes));
        const chunks: Buffer[] = [];
        let length = 0;
        response.on("data", (chunk: Buffer) => {
          length += chunk.length;
          if (length > maxBodyBytes) return finish(tooLarge(path, maxBodyBytes));
          chunks.push(chunk);
        });
        response.once("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            return finish(undefined, { body, headers: flattenHeaders(response.headers) });
          }
          finish(
            new DockerApiError("http-status", `HTTP status ${status} on GET ${path}${describeBody(body)}`, {
              status,
            }),
          );
        });
      });
      req.end();
    });
  }

  async getJson<T>(path: string, options: RequestOptions): Promise<T> {
    const text = await this.getText(path, options);
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new DockerApiError("bad-response", `GET ${path} did not return JSON${describeBody(text)}`, {
        cause: error,
      });
    }
  }

  /**
   * Resolves when the daemon answers `OK` on /_ping, with what its headers tell: the API version, and the
   * engine version from `Server: Docker/27.3.1 (linux)`. That saves a /version call, which on dockerd
   * execs runc and docker-init (~15-30 ms right after start).
   */
  async ping(options: RequestOptions): Promise<PingAnswer> {
    const { body, headers } = await this.get("/_ping", options);
    if (body.trim() !== "OK") {
      throw new DockerApiError("bad-response", `/_ping answered${describeBody(body)} instead of OK`);
    }
    const apiVersion = headers["api-version"];
    const server = /^Docker\/(\S+)/.exec(String(headers.server ?? ""))?.[1];
    return {
      apiVersion: typeof apiVersion === "string" && apiVersion !== "" ? apiVersion : undefined,
      serverVersion: server,
    };
  }

  version(options: RequestOptions): Promise<DockerVersion> {
    return this.getJson<DockerVersion>("/version", options);
  }

  info(options: RequestOptions): Promise<DockerInfo> {
    return this.getJson<DockerInfo>("/info", options);
  }

  systemDf(options: RequestOptions): Promise<SystemDf> {
    return this.getJson<SystemDf>("/system/df", options);
  }

  /** Running containers only (the API's default). */
  runningContainers(options: RequestOptions): Promise<ContainerSummary[]> {
    return this.getJson<ContainerSummary[]>("/containers/json", options);
  }

  network(name: string, options: RequestOptions): Promise<NetworkInspect> {
    return this.getJson<NetworkInspect>(`/networks/${encodeURIComponent(name)}`, options);
  }
}

function tooLarge(path: string, maxBodyBytes: number): DockerApiError {
  return new DockerApiError(
    "bad-response",
    `GET ${path} answered with more than ${formatBytes(maxBodyBytes)}; a Docker daemon does not send that much here`,
  );
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : `${bytes} bytes`;
}

/**
 * node:http reports a connection that closed early as ECONNRESET ("socket hang up" before any response,
 * "aborted" in the middle of one). On a plain endpoint that is an answer that is not a Docker daemon's;
 * with TLS, a close before any response is how many servers turn down a client certificate, which
 * classifyError already says.
 */
function closedEarly(error: unknown, responded: boolean, endpoint: Endpoint): unknown {
  if (error instanceof DockerApiError || !(error instanceof Error)) return error;
  const code = "code" in error ? error.code : undefined;
  if (code !== "ECONNRESET") return error;
  if (responded) {
    return new DockerApiError(
      "bad-response",
      "the connection closed before the whole response body arrived",
      {
        cause: error,
      },
    );
  }
  const tls = endpoint.kind === "tcp" && endpoint.tls !== undefined;
  if (error.message === "socket hang up" && !tls) {
    return new DockerApiError("bad-response", "the connection closed without an HTTP response", {
      cause: error,
    });
  }
  return error;
}

/** A short, single-line excerpt of a response body for error messages (the daemon's `message` if JSON). */
function describeBody(body: string): string {
  const trimmed = body.trim();
  if (trimmed === "") return "";
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (typeof parsed === "object" && parsed !== null && "message" in parsed) {
      return `: ${String(parsed.message)}`;
    }
  } catch {
    // Not JSON: fall through to the raw excerpt.
  }
  const oneLine = trimmed.replace(/\s+/g, " ");
  return `: ${oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine}`;
}
