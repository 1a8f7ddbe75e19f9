import { readFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import type { Endpoint, TlsSettings } from "./endpoint.ts";
import { classifyError, DockerApiError } from "./errors.ts";
import { type HttpResponse, parseHttpResponse } from "./http1.ts";
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

/**
 * A small Docker Engine API client on node: built-ins. Each request opens its own connection
 * (Connection: close), so nothing keeps the process alive once the answer is in.
 */
export class DockerClient {
  readonly endpoint: Endpoint;

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint;
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
    // Plain HTTP/1.1 over node:net (node:tls only for TLS endpoints, loaded on first use): node:http and
    // node:https cost ~50 ms of start-up, a sixth of the step's whole budget.
    let socket: Socket;
    let hostHeader = "docker";
    if (endpoint.kind === "unix") {
      socket = connect({ path: endpoint.socketPath });
    } else {
      hostHeader = `${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
      if (endpoint.tls) {
        // Read on every request: docker:dind writes the files when it starts, maybe after us.
        const material = await readTlsMaterial(endpoint.tls);
        const tls = await import("node:tls");
        socket = tls.connect({
          host: endpoint.host,
          port: endpoint.port,
          ...material,
          rejectUnauthorized: endpoint.tls.verify,
        });
      } else {
        socket = connect({ host: endpoint.host, port: endpoint.port });
      }
    }

    return await new Promise((resolve, reject) => {
      let connected = false;
      let settled = false;
      const chunks: Buffer[] = [];
      const finish = (error: unknown, response?: HttpResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        socket.destroy();
        if (error !== undefined) return reject(classifyError(error, endpoint));
        if (response === undefined) return reject(new DockerApiError("bad-response", "no response"));
        if (response.status >= 200 && response.status < 300) {
          return resolve({ body: response.body, headers: response.headers });
        }
        reject(
          new DockerApiError(
            "http-status",
            `HTTP status ${response.status} on GET ${path}${describeBody(response.body)}`,
            { status: response.status },
          ),
        );
      };
      const tryParse = (ended: boolean) => {
        try {
          const response = parseHttpResponse(Buffer.concat(chunks), ended);
          if (response !== undefined) finish(undefined, response);
          else if (ended) finish(new DockerApiError("bad-response", "the connection closed early"));
        } catch (error) {
          finish(error);
        }
      };
      const timer = setTimeout(() => {
        // "connected" tells a daemon that is still starting (it accepts, but does not serve yet)
        // from one that cannot be reached at all.
        const state = connected ? "connected, but the daemon has not answered yet" : "could not connect";
        finish(new DockerApiError("timeout", `no answer within ${options.timeoutMs} ms (${state})`));
      }, options.timeoutMs);
      const onAbort = () => finish(new DockerApiError("aborted", "request aborted"));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("connect", () => {
        connected = true;
      });
      socket.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        tryParse(false);
      });
      socket.once("end", () => tryParse(true));
      socket.once("error", (error) => finish(error));
      // Written at once: the socket buffers it until connected (and, for TLS, until the handshake is done).
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: dind-setup\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
      );
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
