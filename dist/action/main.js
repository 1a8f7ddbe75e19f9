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
function errorCode(error2) {
  if (typeof error2 === "object" && error2 !== null && "code" in error2 && typeof error2.code === "string") {
    return error2.code;
  }
  return void 0;
}
function errorMessage(error2) {
  const message = (error2 instanceof Error ? error2.message : String(error2)).replace(/\s+/g, " ").trim();
  const openssl = /error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)(:|$)/.exec(message);
  return openssl?.[1]?.trim() ?? message;
}
function classifyError(error2, endpoint) {
  if (error2 instanceof DockerApiError) return error2;
  const code = errorCode(error2) ?? "";
  const detail = errorMessage(error2);
  const unixPath = endpoint.kind === "unix" ? endpoint.socketPath : void 0;
  const tls = endpoint.kind === "tcp" && endpoint.tls !== void 0;
  const options = { cause: error2 };
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
function hintFor(kind, endpoint) {
  switch (kind) {
    case "socket-missing":
    case "connection-refused":
      return endpoint.kind === "unix" ? `the dind sidecar's logs (did dockerd start, or crash?) and the socket volume: ${dirnameOf(endpoint.socketPath)} must be the same volume in the runner and the dind container` : "the dind sidecar's logs (did dockerd start, and does it listen on this host and port?)";
    case "permission-denied":
      return "the socket's group: start dockerd with --group=<the runner's gid>";
    case "tls-material-missing":
      return endpoint.kind === "tcp" && endpoint.tls ? `the TLS cert dir ${endpoint.tls.certDir}: docker:dind writes ca.pem, cert.pem and key.pem to /certs/client when DOCKER_TLS_CERTDIR=/certs; the runner container must mount that volume there (or set DOCKER_CERT_PATH to where it is)` : "the dind sidecar's logs";
    case "tls-material-invalid":
    case "tls-failed":
    case "connection-reset":
      return endpoint.kind === "tcp" && endpoint.tls ? `the TLS cert dir ${endpoint.tls.certDir}: it must hold ca.pem, cert.pem and key.pem made by the same CA as the daemon's server certificate (docker:dind writes them to /certs/client), and the server certificate must name the host you connect to` : "the dind sidecar's logs";
    case "timeout":
      return "the dind sidecar's logs (a daemon that accepts connections but never answers is stuck starting, e.g. on a slow storage driver)";
    case "http-status":
      return "the daemon's logs for the failing request; a 400 on a TLS port means TLS was not used (set DOCKER_TLS_VERIFY=1)";
    case "host-unreachable":
      return "the host name in DOCKER_HOST (the dind sidecar is reached on localhost inside the Pod)";
    default:
      return "the dind sidecar's logs";
  }
}
function dirnameOf(path) {
  const index = path.lastIndexOf("/");
  return index <= 0 ? "/" : path.slice(0, index);
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
    } catch (error2) {
      throw new DockerApiError("tls-material-missing", `TLS material missing: cannot read ${path}`, {
        cause: error2
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
      const finish = (error2, response) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        socket.destroy();
        if (error2 !== void 0) return reject(classifyError(error2, endpoint));
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
        } catch (error2) {
          finish(error2);
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
      socket.once("error", (error2) => finish(error2));
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
    } catch (error2) {
      throw new DockerApiError("bad-response", `GET ${path} did not return JSON${describeBody(text)}`, {
        cause: error2
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
function describeEndpoint(endpoint) {
  if (endpoint.kind === "tcp" && endpoint.tls) {
    const mode = endpoint.tls.verify ? "TLS" : "TLS without server verification";
    return `${endpoint.url} (${mode}, certs in ${endpoint.tls.certDir})`;
  }
  return endpoint.url;
}

// src/action/candidates.ts
var DIND_CLIENT_CERT_DIR = "/certs/client";
var POD_SOCKET = "unix:///var/run/docker.sock";
function isSet(value) {
  return value !== void 0 && value !== "";
}
function tlsFromEnv(env, defaultCertDir) {
  const certDir = isSet(env.DOCKER_CERT_PATH) ? env.DOCKER_CERT_PATH : defaultCertDir;
  if (isSet(env.DOCKER_TLS_VERIFY)) return { certDir, verify: true };
  if (isSet(env.DOCKER_TLS)) return { certDir, verify: false };
  return void 0;
}
function candidateEndpoints(source) {
  const defaultCertDir = source.defaultCertDir ?? DIND_CLIENT_CERT_DIR;
  const tls = tlsFromEnv(source.env, defaultCertDir);
  const certDir = isSet(source.env.DOCKER_CERT_PATH) ? source.env.DOCKER_CERT_PATH : defaultCertDir;
  const given = [
    { value: source.input.trim(), origin: "input docker-host" },
    { value: (source.env.DOCKER_HOST ?? "").trim(), origin: "$DOCKER_HOST" }
  ].find((entry) => entry.value !== "");
  if (given) {
    try {
      const endpoint = parseEndpoint(given.value, tls ? { tls, defaultCertDir } : { defaultCertDir });
      return { endpoints: [endpoint], origin: given.origin };
    } catch (error2) {
      const message = error2 instanceof Error ? error2.message : String(error2);
      throw new Error(`${given.origin}: ${message}`, { cause: error2 });
    }
  }
  return {
    endpoints: [
      parseEndpoint(POD_SOCKET, { defaultCertDir }),
      parseEndpoint("tcp://localhost:2376", {
        tls: { certDir, verify: true },
        defaultCertDir
      }),
      parseEndpoint("tcp://localhost:2375", { defaultCertDir })
    ],
    origin: "well-known endpoints"
  };
}

// src/action/context.ts
import { access, constants } from "node:fs/promises";
import { delimiter, join as join2 } from "node:path";
function csvField(field) {
  return /[",\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}
function dockerContextArgs(verb, name, endpoint) {
  const fields = [`host=${endpoint.url}`];
  if (endpoint.kind === "tcp" && endpoint.tls) {
    const dir = endpoint.tls.certDir;
    fields.push(`ca=${join2(dir, "ca.pem")}`, `cert=${join2(dir, "cert.pem")}`, `key=${join2(dir, "key.pem")}`);
    fields.push(`skip-tls-verify=${endpoint.tls.verify ? "false" : "true"}`);
  }
  return [
    "context",
    verb,
    name,
    "--description",
    "Docker daemon of this job (created by dind-setup)",
    "--docker",
    fields.map(csvField).join(",")
  ];
}
async function findOnPath(name, path) {
  for (const dir of (path ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join2(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
    }
  }
  return void 0;
}
async function runDocker(docker, args, env) {
  const { execFile } = await import("node:child_process");
  return await new Promise((resolve) => {
    execFile(docker, args, { env, timeout: 15e3 }, (error2, stdout, stderr) => {
      resolve({ ok: error2 === null, output: `${stdout}${stderr}`.trim() || String(error2?.message ?? "") });
    });
  });
}
async function createDockerContext(docker, name, endpoint, env) {
  const created = await runDocker(docker, dockerContextArgs("create", name, endpoint), env);
  if (created.ok) return;
  if (/already exists/i.test(created.output)) {
    const updated = await runDocker(docker, dockerContextArgs("update", name, endpoint), env);
    if (updated.ok) return;
    throw new Error(`docker context update ${name} failed: ${updated.output}`);
  }
  throw new Error(`docker context create ${name} failed: ${created.output}`);
}

// src/action/environment.ts
function dockerEnvironment(endpoint, current) {
  const exports = { DOCKER_HOST: endpoint.url };
  const clearIfSet = (name) => {
    if (current[name] !== void 0 && current[name] !== "") exports[name] = "";
  };
  if (endpoint.kind === "tcp" && endpoint.tls) {
    exports.DOCKER_CERT_PATH = endpoint.tls.certDir;
    if (endpoint.tls.verify) {
      exports.DOCKER_TLS_VERIFY = "1";
      clearIfSet("DOCKER_TLS");
    } else {
      exports.DOCKER_TLS = "1";
      clearIfSet("DOCKER_TLS_VERIFY");
    }
  } else {
    clearIfSet("DOCKER_TLS_VERIFY");
    clearIfSet("DOCKER_TLS");
  }
  return exports;
}

// src/action/runner.ts
import { appendFileSync } from "node:fs";
import { EOL } from "node:os";
function inputVariableName(name) {
  return `INPUT_${name.replaceAll(" ", "_").toUpperCase()}`;
}
function getInput(name, env = process.env) {
  return (env[inputVariableName(name)] ?? "").trim();
}
function keyValueMessage(name, value, delimiter2 = `ghadelimiter_${globalThis.crypto.randomUUID()}`) {
  if (name.includes(delimiter2) || value.includes(delimiter2)) {
    throw new Error(`refusing to write ${name}: it contains the file command delimiter`);
  }
  return `${name}<<${delimiter2}${EOL}${value}${EOL}${delimiter2}${EOL}`;
}
function writeFileCommand(fileVariable, name, value, env) {
  const path = env[fileVariable];
  if (!path) {
    throw new Error(`${fileVariable} is not set: this must run as a step of a GitHub Actions job`);
  }
  appendFileSync(path, keyValueMessage(name, value), "utf8");
}
function exportVariable(name, value, env = process.env) {
  writeFileCommand("GITHUB_ENV", name, value, env);
  process.env[name] = value;
}
function setOutput(name, value, env = process.env) {
  writeFileCommand("GITHUB_OUTPUT", name, value, env);
}
function saveState(name, value, env = process.env) {
  writeFileCommand("GITHUB_STATE", name, value, env);
}
function appendSummary(markdown, env = process.env) {
  const path = env.GITHUB_STEP_SUMMARY;
  if (!path) return false;
  appendFileSync(path, `${markdown}${EOL}`, "utf8");
  return true;
}
function escapeCommandData(text) {
  return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}
function info(message) {
  process.stdout.write(`${message}${EOL}`);
}
function warning(message) {
  process.stdout.write(`::warning::${escapeCommandData(message)}${EOL}`);
}
function error(message) {
  process.stdout.write(`::error::${escapeCommandData(message)}${EOL}`);
}
function setFailed(message) {
  process.exitCode = 1;
  error(message);
}

// src/action/inputs.ts
var DEFAULT_TIMEOUT_SECONDS = 120;
var InputError = class extends Error {
  name = "InputError";
};
var CONTEXT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;
function parseInputs(raw) {
  const timeoutText = raw.timeout.trim();
  const timeoutSeconds = timeoutText === "" ? DEFAULT_TIMEOUT_SECONDS : Number(timeoutText);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new InputError(
      `input timeout must be a positive number of seconds (e.g. "120"), got "${raw.timeout}"`
    );
  }
  const context = raw.context.trim();
  if (context !== "" && (!CONTEXT_NAME.test(context) || context === "default")) {
    throw new InputError(
      `input context "${context}" is not a valid docker context name: use letters, digits and _.+- (at least 2 characters, not "default")`
    );
  }
  return { dockerHost: raw.dockerHost.trim(), timeoutMs: Math.round(timeoutSeconds * 1e3), context };
}
function readInputs() {
  return parseInputs({
    dockerHost: getInput("docker-host"),
    timeout: getInput("timeout"),
    context: getInput("context")
  });
}

// src/action/state.ts
var KEY = "dind-setup";
function saveSetupState(state) {
  saveState(KEY, JSON.stringify(state));
}

// src/action/summary.ts
import { access as access2, statfs } from "node:fs/promises";
import { join as join3 } from "node:path";

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

// src/action/summary.ts
function summaryRows(facts) {
  const dataRoot = facts.info.DockerRootDir ?? "unknown";
  return [
    ["Endpoint", describeEndpoint(facts.endpoint)],
    ["Docker version", facts.version.Version],
    ["API version", facts.version.ApiVersion],
    ["Storage driver", facts.info.Driver],
    ["Data root", `${dataRoot} (${facts.dataRootSpace})`],
    ["Wait time", `${Math.round(facts.waitedMs)} ms`]
  ];
}
function cell(text) {
  return text.replaceAll("|", "\\|").replace(/\s*\n\s*/g, " ");
}
function summaryMarkdown(facts) {
  const lines = ["### Docker daemon", "", "| | |", "|---|---|"];
  for (const [label, value] of summaryRows(facts)) lines.push(`| ${cell(label)} | ${cell(value)} |`);
  return lines.join("\n");
}
async function dataRootSpace(info2, endpoint) {
  const root = info2.DockerRootDir;
  if (!root || endpoint.kind !== "unix") return "free space not visible from this container";
  try {
    await access2(join3(root, info2.Driver));
    const stats = await statfs(root);
    return `${formatBytes(stats.bavail * stats.bsize)} free of ${formatBytes(stats.blocks * stats.bsize)}`;
  } catch {
    return "free space not visible from this container";
  }
}

// src/action/wait.ts
var DEFAULT_BACKOFF = { initialMs: 2, factor: 2, maxMs: 250 };
var DEFAULT_TRY_TIMEOUT_MS = 2e3;
var DEFAULT_PROGRESS_EVERY_MS = 5e3;
var realClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  })
};
function asDockerError(error2) {
  if (error2 instanceof DockerApiError) return error2;
  return new DockerApiError("other", error2 instanceof Error ? error2.message : String(error2), {
    cause: error2
  });
}
async function waitForDaemon(endpoints, options) {
  const clock = options.clock ?? realClock;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const tryTimeoutMs = options.tryTimeoutMs ?? DEFAULT_TRY_TIMEOUT_MS;
  const progressEveryMs = options.progressEveryMs ?? DEFAULT_PROGRESS_EVERY_MS;
  const start = clock.now();
  const deadline = start + options.timeoutMs;
  const stop = new AbortController();
  const attempts = endpoints.map((endpoint) => ({
    endpoint,
    tries: 0,
    lastError: void 0
  }));
  let winner;
  const reportProgress = async () => {
    if (!options.onProgress) return;
    for (let at = start + progressEveryMs; at < deadline; at += progressEveryMs) {
      const sleepMs = at - clock.now();
      if (sleepMs > 0) await clock.sleep(sleepMs, stop.signal);
      if (stop.signal.aborted) return;
      options.onProgress(formatProgress(attempts, clock.now() - start, options.timeoutMs));
    }
  };
  const pollOne = async (attempt) => {
    let delayMs = backoff.initialMs;
    while (!stop.signal.aborted) {
      const tryStart = clock.now();
      const remaining = deadline - tryStart;
      if (remaining <= 0) return;
      attempt.tries++;
      const timeoutMs = Math.max(1, Math.min(tryTimeoutMs, remaining));
      try {
        await options.probe(attempt.endpoint, { timeoutMs, signal: stop.signal });
        if (winner === void 0) winner = attempt.endpoint;
        stop.abort();
        return;
      } catch (error2) {
        if (stop.signal.aborted) return;
        const dockerError = asDockerError(error2);
        const cutShort = dockerError.kind === "timeout" && timeoutMs < tryTimeoutMs;
        if (!cutShort || attempt.lastError === void 0) attempt.lastError = dockerError;
      }
      const now = clock.now();
      const sleepMs = Math.min(tryStart + delayMs, deadline) - now;
      if (sleepMs > 0) await clock.sleep(sleepMs, stop.signal);
      delayMs = Math.min(delayMs * backoff.factor, backoff.maxMs);
    }
  };
  const progress = reportProgress();
  await Promise.all(attempts.map(pollOne));
  stop.abort();
  await progress;
  const waitedMs = Math.max(0, clock.now() - start);
  if (winner !== void 0) return { ready: true, endpoint: winner, waitedMs, attempts };
  return { ready: false, waitedMs, attempts };
}
function lastErrorWords(attempt) {
  return attempt.lastError?.message ?? "not tried yet";
}
function seconds(ms) {
  return `${(ms / 1e3).toFixed(1)} s`;
}
function formatProgress(attempts, elapsedMs, timeoutMs) {
  const parts = attempts.map((attempt) => `${attempt.endpoint.url}: ${lastErrorWords(attempt)}`);
  return `Still waiting for the Docker daemon (${seconds(elapsedMs)} of ${seconds(timeoutMs)}): ${parts.join("; ")}`;
}
function formatFailure(attempts, timeoutMs) {
  const lines = [`No Docker daemon answered within ${seconds(timeoutMs)}.`];
  for (const attempt of attempts) {
    const tries = attempt.tries === 1 ? "1 try" : `${attempt.tries} tries`;
    lines.push(`  ${describeEndpoint(attempt.endpoint)}: ${lastErrorWords(attempt)} (${tries})`);
  }
  const hints = /* @__PURE__ */ new Set();
  for (const attempt of attempts) {
    const hint = hintFor(attempt.lastError?.kind ?? "other", attempt.endpoint);
    if (hint) hints.add(hint);
  }
  lines.push("Check:");
  for (const hint of hints) lines.push(`  - ${hint}`);
  lines.push(
    "  - that this job runs on a runner with a Docker daemon; set the docker-host input when it is not one of the above"
  );
  return lines.join("\n");
}

// src/action/warnings.ts
import { readFile as readFile2 } from "node:fs/promises";
var POD_INTERFACE_MTU_PATH = "/sys/class/net/eth0/mtu";
var DOCKER_DEFAULT_MTU = 1500;
function storageDriverWarning(driver) {
  if (driver !== "vfs") return void 0;
  return [
    "The Docker daemon uses the vfs storage driver: every layer is a full copy, so builds and pulls are slow and use",
    "much more disk. This happens when /var/lib/docker is not on a real volume (overlay on overlay is refused).",
    "Fix: mount an emptyDir (or an ephemeral volume) at /var/lib/docker in the dind container."
  ].join(" ");
}
function bridgeMtu(network) {
  const value = Number(network.Options?.["com.docker.network.driver.mtu"]);
  return Number.isInteger(value) && value > 0 ? value : DOCKER_DEFAULT_MTU;
}
function mtuWarning(bridge, podInterface) {
  if (podInterface === void 0 || bridge <= podInterface) return void 0;
  return [
    `The Docker bridge MTU (${bridge}) is larger than the Pod's eth0 MTU (${podInterface}): large packets from`,
    "containers get dropped, which shows up as TLS handshakes or downloads that hang.",
    `Fix: start dockerd with --mtu=${podInterface} --default-network-opt=bridge=com.docker.network.driver.mtu=${podInterface}`,
    "(the second flag covers networks compose creates)."
  ].join(" ");
}
async function readInterfaceMtu(path) {
  try {
    const value = Number((await readFile2(path, "utf8")).trim());
    return Number.isInteger(value) && value > 0 ? value : void 0;
  } catch {
    return void 0;
  }
}

// src/action/setup.ts
var FACT_TIMEOUT_MS = 15e3;
var defaults = {
  env: process.env,
  defaultCertDir: DIND_CLIENT_CERT_DIR,
  podInterfaceMtuPath: POD_INTERFACE_MTU_PATH
};
async function setup(options = defaults) {
  try {
    await setupOrThrow(options);
  } catch (error2) {
    setFailed(error2 instanceof Error ? error2.message : String(error2));
  }
}
async function setupOrThrow(options) {
  const inputs = readInputs();
  const { endpoints, origin } = candidateEndpoints({
    input: inputs.dockerHost,
    env: options.env,
    defaultCertDir: options.defaultCertDir
  });
  info(
    `Waiting up to ${inputs.timeoutMs / 1e3} s for the Docker daemon at ${endpoints.map(describeEndpoint).join(", ")} (from ${origin})`
  );
  const pings = /* @__PURE__ */ new Map();
  const infos = /* @__PURE__ */ new Map();
  const result = await waitForDaemon(endpoints, {
    timeoutMs: inputs.timeoutMs,
    probe: async (endpoint2, probeOptions) => {
      const client2 = new DockerClient(endpoint2);
      const infoAbort = new AbortController();
      const info3 = client2.info({ timeoutMs: FACT_TIMEOUT_MS, signal: infoAbort.signal });
      info3.catch(() => {
      });
      try {
        pings.set(endpoint2, await client2.ping(probeOptions));
        infos.set(endpoint2, info3);
      } catch (error2) {
        infoAbort.abort();
        throw error2;
      }
    },
    onProgress: (line) => info(line)
  });
  if (!result.ready) throw new Error(formatFailure(result.attempts, inputs.timeoutMs));
  const { endpoint } = result;
  if (endpoints.length > 1) info(`${endpoint.url} answered first of ${endpoints.length} candidates`);
  const client = new DockerClient(endpoint);
  const requestOptions = { timeoutMs: FACT_TIMEOUT_MS };
  const [info2, bridge, podMtu] = await Promise.all([
    (infos.get(endpoint) ?? client.info(requestOptions)).catch((error2) => {
      const reason = error2 instanceof Error ? error2.message : String(error2);
      throw new Error(
        `The Docker daemon at ${endpoint.url} answered /_ping but then GET /info failed: ${reason}. Check the dind sidecar's logs: the daemon may have crashed right after starting.`,
        { cause: error2 }
      );
    }),
    // No default bridge (dockerd --bridge=none) is fine: then there is no MTU to compare.
    client.network("bridge", requestOptions).catch(() => void 0),
    readInterfaceMtu(options.podInterfaceMtuPath)
  ]);
  const version = await daemonVersion(client, pings.get(endpoint), info2);
  for (const [name, value] of Object.entries(dockerEnvironment(endpoint, options.env))) {
    exportVariable(name, value);
  }
  const waitMs = Math.round(result.waitedMs);
  setOutput("docker-host", endpoint.url);
  setOutput("server-version", version.Version);
  setOutput("api-version", version.ApiVersion);
  setOutput("storage-driver", info2.Driver);
  setOutput("wait-ms", String(waitMs));
  saveSetupState({
    dockerHost: endpoint.url,
    certDir: endpoint.kind === "tcp" ? endpoint.tls?.certDir : void 0,
    tlsVerify: endpoint.kind === "tcp" && endpoint.tls?.verify === true
  });
  let contextName = "";
  if (inputs.context !== "") {
    const docker = await findOnPath("docker", options.env.PATH);
    if (docker === void 0) {
      warning(`Docker context "${inputs.context}" not created: the docker CLI is not on PATH.`);
    } else {
      await createDockerContext(docker, inputs.context, endpoint, options.env);
      contextName = inputs.context;
      info(`Created docker context "${contextName}" for ${endpoint.url}`);
    }
  }
  setOutput("context", contextName);
  const warnings = [
    storageDriverWarning(info2.Driver),
    bridge ? mtuWarning(bridgeMtu(bridge), podMtu) : void 0
  ].filter((warning2) => warning2 !== void 0);
  for (const warning2 of warnings) warning(warning2);
  if (options.env.GITHUB_STEP_SUMMARY) {
    const space = await dataRootSpace(info2, endpoint);
    appendSummary(
      summaryMarkdown({ endpoint, version, info: info2, waitedMs: waitMs, dataRootSpace: space })
    );
  }
  info(
    `Docker ${version.Version} (API ${version.ApiVersion}, storage driver ${info2.Driver}) is ready at ${endpoint.url} after ${waitMs} ms; DOCKER_HOST exported for the next steps`
  );
}
async function daemonVersion(client, ping, info2) {
  const serverVersion = ping?.serverVersion ?? info2.ServerVersion;
  if (ping?.apiVersion !== void 0 && serverVersion !== void 0) {
    return { Version: serverVersion, ApiVersion: ping.apiVersion };
  }
  return await client.version({ timeoutMs: FACT_TIMEOUT_MS });
}

// src/action/main.ts
await setup();
