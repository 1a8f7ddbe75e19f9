import { createRequire as __dindCreateRequire } from 'node:module'; const require = __dindCreateRequire(import.meta.url);

// src/docker/client.ts
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";

// src/docker/errors.ts
var DockerApiError = class extends Error {
  name = "DockerApiError";
  kind;
  /** HTTP status for kind "http-status". */
  status;
  constructor(kind, message, options = {}) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.status = options.status;
  }
};
var TLS_VERIFY_CODES = /* @__PURE__ */ new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID"
]);
function errorCode(error) {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return void 0;
}
function errorMessage(error) {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
  const openssl = /error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)(:|$)/.exec(message);
  return openssl?.[1]?.trim() ?? message;
}
function classifyError(error, endpoint) {
  if (error instanceof DockerApiError) return error;
  const code = errorCode(error) ?? "";
  const detail = errorMessage(error);
  const unixPath = endpoint.kind === "unix" ? endpoint.socketPath : void 0;
  const tls = endpoint.kind === "tcp" && endpoint.tls !== void 0;
  const options = { cause: error };
  if (code === "ENOENT" && unixPath) {
    return new DockerApiError("socket-missing", `socket file missing (${unixPath} does not exist)`, options);
  }
  if (code === "EACCES" || code === "EPERM") {
    return new DockerApiError(
      "permission-denied",
      `permission denied on ${unixPath ?? endpoint.url} (is the runner user in the socket's group?)`,
      options
    );
  }
  if (code === "ECONNREFUSED") {
    const why = unixPath ? "the socket file exists but no daemon listens on it" : "nothing listens on that port";
    return new DockerApiError("connection-refused", `connection refused (${why})`, options);
  }
  if (code === "ECONNRESET" || code === "EPIPE") {
    const why = tls ? " \u2014 with TLS this usually means the daemon rejected our client certificate" : "";
    return new DockerApiError("connection-reset", `connection reset by the daemon${why}`, options);
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new DockerApiError("host-unreachable", `host not found (${detail})`, options);
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EADDRNOTAVAIL") {
    return new DockerApiError("host-unreachable", `host unreachable (${code})`, options);
  }
  if (TLS_VERIFY_CODES.has(code)) {
    return new DockerApiError(
      "tls-failed",
      `TLS verification failed: the daemon's certificate is not trusted by ca.pem (${code}: ${detail})`,
      options
    );
  }
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG") {
    return new DockerApiError(
      "tls-failed",
      "TLS handshake failed: the endpoint does not speak TLS (a plain port such as 2375?)",
      options
    );
  }
  if (code.startsWith("ERR_OSSL_") || /DECODER routines|PEM routines|bad base64/i.test(detail)) {
    return new DockerApiError(
      "tls-material-invalid",
      `TLS files unreadable as PEM (${code || detail})`,
      options
    );
  }
  if (/ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|DECRYPT_ERROR)/.test(code)) {
    return new DockerApiError(
      "tls-failed",
      "TLS verification failed: the daemon rejected our client certificate (cert.pem is not signed by the CA the daemon trusts)",
      options
    );
  }
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || /\b(ssl|tls)\b/i.test(detail)) {
    return new DockerApiError(
      "tls-failed",
      `TLS verification failed (${code || "handshake"}: ${detail})`,
      options
    );
  }
  return new DockerApiError("other", code ? `${code}: ${detail}` : detail, options);
}

// src/docker/http1.ts
var HEADER_END = Buffer.from("\r\n\r\n");
var CRLF = Buffer.from("\r\n");
function badResponse(message) {
  return new DockerApiError("bad-response", message);
}
function decodeChunked(data) {
  const parts = [];
  let offset = 0;
  for (; ; ) {
    const lineEnd = data.indexOf(CRLF, offset);
    if (lineEnd === -1) return void 0;
    const sizeText = data.subarray(offset, lineEnd).toString("latin1").split(";")[0]?.trim() ?? "";
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw badResponse(`bad chunk size "${sizeText.slice(0, 20)}"`);
    const size = Number.parseInt(sizeText, 16);
    const start = lineEnd + 2;
    if (size === 0) return Buffer.concat(parts);
    if (data.length < start + size + 2) return void 0;
    parts.push(data.subarray(start, start + size));
    offset = start + size + 2;
  }
}
function parseHttpResponse(data, ended) {
  const headerEnd = data.indexOf(HEADER_END);
  if (headerEnd === -1) {
    if (!ended) return void 0;
    throw badResponse(
      data.length === 0 ? "the connection closed without an HTTP response" : "the connection closed in the middle of the HTTP headers"
    );
  }
  const [statusLine = "", ...headerLines] = data.subarray(0, headerEnd).toString("latin1").split("\r\n");
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!statusMatch) throw badResponse(`not an HTTP response: "${statusLine.slice(0, 60)}"`);
  const status = Number(statusMatch[1]);
  const headers = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === void 0 ? value : `${headers[name]}, ${value}`;
  }
  const rest = data.subarray(headerEnd + HEADER_END.length);
  let body;
  if (status === 204 || status === 304) {
    body = Buffer.alloc(0);
  } else if (/\bchunked\b/i.test(headers["transfer-encoding"] ?? "")) {
    body = decodeChunked(rest);
  } else if (headers["content-length"] !== void 0) {
    const length = Number(headers["content-length"]);
    if (!Number.isSafeInteger(length) || length < 0) throw badResponse("bad Content-Length");
    body = rest.length >= length ? rest.subarray(0, length) : void 0;
  } else if (ended) {
    body = rest;
  }
  if (body === void 0) {
    if (ended) throw badResponse("the connection closed before the whole response body arrived");
    return void 0;
  }
  return { status, headers, body: body.toString("utf8") };
}

// src/docker/client.ts
async function readTlsMaterial(tls) {
  const material = {};
  for (const name of ["ca", "cert", "key"]) {
    const path = join(tls.certDir, `${name}.pem`);
    try {
      material[name] = await readFile(path);
    } catch (error) {
      throw new DockerApiError("tls-material-missing", `TLS material missing: cannot read ${path}`, {
        cause: error
      });
    }
  }
  return material;
}
var DockerClient = class {
  endpoint;
  constructor(endpoint) {
    this.endpoint = endpoint;
  }
  /** GET `path`, returning the body as text on 2xx; every failure becomes a DockerApiError. */
  async getText(path, options) {
    return (await this.get(path, options)).body;
  }
  /** GET `path` with the response headers; every failure becomes a DockerApiError. */
  async get(path, options) {
    const endpoint = this.endpoint;
    let socket;
    let hostHeader = "docker";
    if (endpoint.kind === "unix") {
      socket = connect({ path: endpoint.socketPath });
    } else {
      hostHeader = `${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
      if (endpoint.tls) {
        const material = await readTlsMaterial(endpoint.tls);
        const tls = await import("node:tls");
        socket = tls.connect({
          host: endpoint.host,
          port: endpoint.port,
          ...material,
          rejectUnauthorized: endpoint.tls.verify
        });
      } else {
        socket = connect({ host: endpoint.host, port: endpoint.port });
      }
    }
    return await new Promise((resolve, reject) => {
      let connected = false;
      let settled = false;
      const chunks = [];
      const finish = (error, response) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        socket.destroy();
        if (error !== void 0) return reject(classifyError(error, endpoint));
        if (response === void 0) return reject(new DockerApiError("bad-response", "no response"));
        if (response.status >= 200 && response.status < 300) {
          return resolve({ body: response.body, headers: response.headers });
        }
        reject(
          new DockerApiError(
            "http-status",
            `HTTP status ${response.status} on GET ${path}${describeBody(response.body)}`,
            { status: response.status }
          )
        );
      };
      const tryParse = (ended) => {
        try {
          const response = parseHttpResponse(Buffer.concat(chunks), ended);
          if (response !== void 0) finish(void 0, response);
          else if (ended) finish(new DockerApiError("bad-response", "the connection closed early"));
        } catch (error) {
          finish(error);
        }
      };
      const timer = setTimeout(() => {
        const state = connected ? "connected, but the daemon has not answered yet" : "could not connect";
        finish(new DockerApiError("timeout", `no answer within ${options.timeoutMs} ms (${state})`));
      }, options.timeoutMs);
      const onAbort = () => finish(new DockerApiError("aborted", "request aborted"));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("connect", () => {
        connected = true;
      });
      socket.on("data", (chunk) => {
        chunks.push(chunk);
        tryParse(false);
      });
      socket.once("end", () => tryParse(true));
      socket.once("error", (error) => finish(error));
      socket.write(
        `GET ${path} HTTP/1.1\r
Host: ${hostHeader}\r
User-Agent: dind-setup\r
Accept: application/json\r
Connection: close\r
\r
`
      );
    });
  }
  async getJson(path, options) {
    const text = await this.getText(path, options);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new DockerApiError("bad-response", `GET ${path} did not return JSON${describeBody(text)}`, {
        cause: error
      });
    }
  }
  /**
   * Resolves when the daemon answers `OK` on /_ping, with what its headers tell: the API version, and the
   * engine version from `Server: Docker/27.3.1 (linux)`. That saves a /version call, which on dockerd
   * execs runc and docker-init (~15-30 ms right after start).
   */
  async ping(options) {
    const { body, headers } = await this.get("/_ping", options);
    if (body.trim() !== "OK") {
      throw new DockerApiError("bad-response", `/_ping answered${describeBody(body)} instead of OK`);
    }
    const apiVersion = headers["api-version"];
    const server = /^Docker\/(\S+)/.exec(String(headers.server ?? ""))?.[1];
    return {
      apiVersion: typeof apiVersion === "string" && apiVersion !== "" ? apiVersion : void 0,
      serverVersion: server
    };
  }
  version(options) {
    return this.getJson("/version", options);
  }
  info(options) {
    return this.getJson("/info", options);
  }
  systemDf(options) {
    return this.getJson("/system/df", options);
  }
  /** Running containers only (the API's default). */
  runningContainers(options) {
    return this.getJson("/containers/json", options);
  }
  network(name, options) {
    return this.getJson(`/networks/${encodeURIComponent(name)}`, options);
  }
};
function describeBody(body) {
  const trimmed = body.trim();
  if (trimmed === "") return "";
  try {
    const parsed = JSON.parse(trimmed);
    if (typeof parsed === "object" && parsed !== null && "message" in parsed) {
      return `: ${String(parsed.message)}`;
    }
  } catch {
  }
  const oneLine = trimmed.replace(/\s+/g, " ");
  return `: ${oneLine.length > 200 ? `${oneLine.slice(0, 200)}\u2026` : oneLine}`;
}

// src/docker/endpoint.ts
var DOCKER_TLS_PORT = 2376;
var DOCKER_PLAIN_PORT = 2375;
var EndpointError = class extends Error {
  name = "EndpointError";
};
function parseEndpoint(address, options) {
  const trimmed = address.trim();
  if (trimmed === "")
    throw new EndpointError("the Docker host is empty; expected unix:///path or tcp://host:port");
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === "unix") {
    const socketPath = trimmed.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new EndpointError(
        `"${trimmed}" has no absolute socket path; expected unix:///path/to/docker.sock (three slashes)`
      );
    }
    return { kind: "unix", url: `unix://${socketPath}`, socketPath };
  }
  if (scheme === "tcp") {
    let parsed;
    try {
      parsed = new URL(`http://${trimmed.slice("tcp://".length)}`);
    } catch {
      throw new EndpointError(`"${trimmed}" is not a valid tcp:// address; expected tcp://host:port`);
    }
    if (parsed.pathname !== "/" && parsed.pathname !== "") {
      throw new EndpointError(`"${trimmed}" has a path; expected tcp://host:port without a path`);
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    const explicitPort = parsed.port === "" ? void 0 : Number(parsed.port);
    const tls = options.tls ?? (explicitPort === DOCKER_TLS_PORT ? { certDir: options.defaultCertDir, verify: true } : void 0);
    const port = explicitPort ?? (tls ? DOCKER_TLS_PORT : DOCKER_PLAIN_PORT);
    const url = `tcp://${parsed.hostname}:${port}`;
    return tls ? { kind: "tcp", url, host, port, tls } : { kind: "tcp", url, host, port };
  }
  if (scheme === void 0) {
    throw new EndpointError(
      `"${trimmed}" has no scheme; expected unix:///path/to/docker.sock or tcp://host:port`
    );
  }
  throw new EndpointError(
    `"${trimmed}" uses ${scheme}://, which dind-setup does not support; expected unix:// or tcp://`
  );
}

// src/action/candidates.ts
var DIND_CLIENT_CERT_DIR = "/certs/client";

// src/action/format.ts
var UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
function formatBytes(bytes) {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

// src/action/diagnostics.ts
function sum(values) {
  return values.reduce((total, value) => total + (value !== void 0 && value > 0 ? value : 0), 0);
}
function reason(error) {
  return error instanceof Error ? error.message : String(error);
}
function containerLine(container) {
  const name = container.Names?.[0]?.replace(/^\//, "") ?? container.Id.slice(0, 12);
  return `  ${name} (${container.Image ?? "?"}, ${container.Status ?? container.State ?? "?"})`;
}
function formatDiagnostics(daemon, containers, df) {
  const lines = [`Docker daemon ${daemon} at the end of the job:`];
  if (containers instanceof Error) {
    lines.push(`Running containers: unavailable (${reason(containers)})`);
  } else if (containers.length === 0) {
    lines.push("Running containers: none");
  } else {
    lines.push(`Running containers: ${containers.length}`);
    const shown = containers.slice(0, 10);
    lines.push(...shown.map(containerLine));
    if (containers.length > shown.length) lines.push(`  \u2026 and ${containers.length - shown.length} more`);
  }
  if (df instanceof Error) {
    lines.push(`Disk used: unavailable (${reason(df)})`);
  } else {
    const images = df.Images ?? [];
    const cache = df.BuildCache ?? [];
    const imageBytes = df.LayersSize ?? sum(images.map((image) => image.Size));
    lines.push(
      [
        `Disk used: images ${formatBytes(imageBytes)} (${images.length})`,
        `build cache ${formatBytes(sum(cache.filter((entry) => !entry.Shared).map((entry) => entry.Size)))} (${cache.length} entries)`,
        `containers ${formatBytes(sum((df.Containers ?? []).map((container) => container.SizeRw)))}`,
        `volumes ${formatBytes(sum((df.Volumes ?? []).map((volume) => volume.UsageData?.Size)))}`
      ].join(", ")
    );
  }
  return lines;
}

// src/action/runner.ts
import { EOL } from "node:os";
function getState(name, env = process.env) {
  return env[`STATE_${name}`] ?? "";
}
function info(message) {
  process.stdout.write(`${message}${EOL}`);
}

// src/action/state.ts
var KEY = "dind-setup";
function readSetupState() {
  const raw = getState(KEY);
  if (raw === "") return void 0;
  try {
    const parsed = JSON.parse(raw);
    if (typeof parsed.dockerHost !== "string") return void 0;
    return {
      dockerHost: parsed.dockerHost,
      certDir: typeof parsed.certDir === "string" ? parsed.certDir : void 0,
      tlsVerify: parsed.tlsVerify === true
    };
  } catch {
    return void 0;
  }
}

// src/action/diagnose.ts
var POST_TIMEOUT_MS = 1e4;
async function diagnose() {
  try {
    const state = readSetupState();
    if (state === void 0) {
      info("dind-setup: the main step did not find a Docker daemon, so there is nothing to report.");
      return;
    }
    const endpoint = parseEndpoint(state.dockerHost, {
      tls: state.certDir === void 0 ? void 0 : { certDir: state.certDir, verify: state.tlsVerify },
      defaultCertDir: DIND_CLIENT_CERT_DIR
    });
    const client = new DockerClient(endpoint);
    const options = { timeoutMs: POST_TIMEOUT_MS };
    const asError = (error) => error instanceof Error ? error : new Error(String(error));
    const [containers, df] = await Promise.all([
      client.runningContainers(options).catch(asError),
      client.systemDf(options).catch(asError)
    ]);
    for (const line of formatDiagnostics(endpoint.url, containers, df)) info(line);
  } catch (error) {
    info(
      `dind-setup: diagnostics skipped (${error instanceof Error ? error.message : String(error)})`
    );
  }
}

// src/action/post.ts
await diagnose();
