import { readFile } from "node:fs/promises";
import * as http from "node:http";
import * as https from "node:https";
import { join } from "node:path";
import type { Endpoint, TlsSettings } from "./endpoint.ts";
import { classifyError, DockerApiError } from "./errors.ts";
import type { ContainerSummary, DockerInfo, DockerVersion, NetworkInspect, SystemDf } from "./types.ts";

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
 * A small Docker Engine API client on node: built-ins. Each request uses its own connection
 * (no agent), so nothing keeps the process alive once the answer is in.
 */
export class DockerClient {
  readonly endpoint: Endpoint;

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint;
  }

  /** GET `path`, returning the body as text on 2xx; every failure becomes a DockerApiError. */
  async getText(path: string, options: RequestOptions): Promise<string> {
    const endpoint = this.endpoint;
    const requestOptions: https.RequestOptions = {
      method: "GET",
      path,
      agent: false,
      headers: { Accept: "application/json" },
    };
    let transport: typeof http | typeof https = http;
    if (endpoint.kind === "unix") {
      requestOptions.socketPath = endpoint.socketPath;
      // A unix socket has no host name; the daemon ignores Host but HTTP/1.1 requires one.
      requestOptions.headers = { ...requestOptions.headers, Host: "docker" };
    } else {
      requestOptions.host = endpoint.host;
      requestOptions.port = endpoint.port;
      if (endpoint.tls) {
        // Read on every request: docker:dind writes the files when it starts, maybe after us.
        Object.assign(requestOptions, await readTlsMaterial(endpoint.tls));
        requestOptions.rejectUnauthorized = endpoint.tls.verify;
        transport = https;
      }
    }

    return await new Promise<string>((resolve, reject) => {
      let connected = false;
      let settled = false;
      const finish = (error: unknown, body?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (error === undefined) resolve(body ?? "");
        else reject(classifyError(error, endpoint));
      };
      const request = transport.request(requestOptions, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (error) => finish(error));
        response.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) return finish(undefined, body);
          finish(
            new DockerApiError("http-status", `HTTP status ${status} on GET ${path}${describeBody(body)}`, {
              status,
            }),
          );
        });
      });
      const timer = setTimeout(() => {
        // "connected" tells a daemon that is still starting (it accepts, but does not serve yet)
        // from one that cannot be reached at all.
        const state = connected ? "connected, but the daemon has not answered yet" : "could not connect";
        const error = new DockerApiError("timeout", `no answer within ${options.timeoutMs} ms (${state})`);
        finish(error);
        request.destroy(error);
      }, options.timeoutMs);
      const onAbort = () => {
        const error = new DockerApiError("aborted", "request aborted");
        finish(error);
        request.destroy(error);
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      request.on("socket", (socket) => {
        socket.once("connect", () => {
          connected = true;
        });
      });
      request.on("error", (error) => finish(error));
      request.end();
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

  /** Resolves when the daemon answers `OK` on /_ping. */
  async ping(options: RequestOptions): Promise<void> {
    const body = await this.getText("/_ping", options);
    if (body.trim() !== "OK") {
      throw new DockerApiError("bad-response", `/_ping answered${describeBody(body)} instead of OK`);
    }
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
