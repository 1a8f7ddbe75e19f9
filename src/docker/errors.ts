import type { Endpoint } from "./endpoint.ts";

/** What went wrong talking to a daemon, in the categories a user can act on. */
export type DockerErrorKind =
  | "socket-missing"
  | "permission-denied"
  | "connection-refused"
  | "connection-reset"
  | "host-unreachable"
  | "tls-material-missing"
  | "tls-material-invalid"
  | "tls-failed"
  | "http-status"
  | "timeout"
  | "bad-response"
  | "aborted"
  | "other";

export class DockerApiError extends Error {
  override name = "DockerApiError";
  readonly kind: DockerErrorKind;
  /** HTTP status for kind "http-status". */
  readonly status: number | undefined;

  constructor(kind: DockerErrorKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.status = options.status;
  }
}

// OpenSSL's certificate verification results as Node reports them in `err.code`.
const TLS_VERIFY_CODES = new Set([
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
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

function errorCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}

/** The message on one line; OpenSSL's `…:reason:file.c:123:` tails are reduced to the reason. */
function errorMessage(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
  const openssl = /error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)(:|$)/.exec(message);
  return openssl?.[1]?.trim() ?? message;
}

/**
 * Turns a low-level error from node:net/tls/http into a DockerApiError whose message says in words what
 * happened at this endpoint. The message never includes file contents, so key material cannot leak.
 */
export function classifyError(error: unknown, endpoint: Endpoint): DockerApiError {
  if (error instanceof DockerApiError) return error;
  const code = errorCode(error) ?? "";
  const detail = errorMessage(error);
  const unixPath = endpoint.kind === "unix" ? endpoint.socketPath : undefined;
  const tls = endpoint.kind === "tcp" && endpoint.tls !== undefined;
  const options = { cause: error };

  if (code === "ENOENT" && unixPath) {
    return new DockerApiError("socket-missing", `socket file missing (${unixPath} does not exist)`, options);
  }
  if (code === "EACCES" || code === "EPERM") {
    return new DockerApiError(
      "permission-denied",
      `permission denied on ${unixPath ?? endpoint.url} (is the runner user in the socket's group?)`,
      options,
    );
  }
  if (code === "ECONNREFUSED") {
    const why = unixPath
      ? "the socket file exists but no daemon listens on it"
      : "nothing listens on that port";
    return new DockerApiError("connection-refused", `connection refused (${why})`, options);
  }
  if (code === "ECONNRESET" || code === "EPIPE") {
    const why = tls ? " — with TLS this usually means the daemon rejected our client certificate" : "";
    return new DockerApiError("connection-reset", `connection reset by the daemon${why}`, options);
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new DockerApiError("host-unreachable", `host not found (${detail})`, options);
  }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EADDRNOTAVAIL") {
    return new DockerApiError("host-unreachable", `host unreachable (${code})`, options);
  }
  if (code.startsWith("HPE_")) {
    // llhttp, node:http's parser, could not read the answer as HTTP/1.x.
    return new DockerApiError(
      "bad-response",
      `the answer is not HTTP from a Docker daemon (${code}: ${detail})`,
      options,
    );
  }
  if (TLS_VERIFY_CODES.has(code)) {
    return new DockerApiError(
      "tls-failed",
      `TLS verification failed: the daemon's certificate is not trusted by ca.pem (${code}: ${detail})`,
      options,
    );
  }
  // node:https reports some handshake failures as EPROTO with OpenSSL's reason only in the message.
  if (
    code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    code === "ERR_SSL_PACKET_LENGTH_TOO_LONG" ||
    (code === "EPROTO" && /wrong version number|packet length too long/i.test(detail))
  ) {
    return new DockerApiError(
      "tls-failed",
      "TLS handshake failed: the endpoint does not speak TLS (a plain port such as 2375?)",
      options,
    );
  }
  if (code.startsWith("ERR_OSSL_") || /DECODER routines|PEM routines|bad base64/i.test(detail)) {
    return new DockerApiError(
      "tls-material-invalid",
      `TLS files unreadable as PEM (${code || detail})`,
      options,
    );
  }
  if (
    /ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|DECRYPT_ERROR)/.test(code)
  ) {
    return new DockerApiError(
      "tls-failed",
      "TLS verification failed: the daemon rejected our client certificate (cert.pem is not signed by the CA the daemon trusts)",
      options,
    );
  }
  if (
    code.startsWith("ERR_SSL_") ||
    code.startsWith("ERR_TLS_") ||
    (code === "EPROTO" && tls) ||
    /\b(ssl|tls)\b/i.test(detail)
  ) {
    return new DockerApiError(
      "tls-failed",
      `TLS verification failed (${code || "handshake"}: ${detail})`,
      options,
    );
  }
  return new DockerApiError("other", code ? `${code}: ${detail}` : detail, options);
}

/** The one-line "what to check" hints for a set of error kinds seen at one endpoint. */
export function hintFor(kind: DockerErrorKind, endpoint: Endpoint): string | undefined {
  switch (kind) {
    case "socket-missing":
    case "connection-refused":
      return endpoint.kind === "unix"
        ? `the dind sidecar's logs (did dockerd start, or crash?) and the socket volume: ${dirnameOf(endpoint.socketPath)} must be the same volume in the runner and the dind container`
        : "the dind sidecar's logs (did dockerd start, and does it listen on this host and port?)";
    case "permission-denied":
      return "the socket's group: start dockerd with --group=<the runner's gid>";
    case "tls-material-missing":
      return endpoint.kind === "tcp" && endpoint.tls
        ? `the TLS cert dir ${endpoint.tls.certDir}: docker:dind writes ca.pem, cert.pem and key.pem to /certs/client when DOCKER_TLS_CERTDIR=/certs; the runner container must mount that volume there (or set DOCKER_CERT_PATH to where it is)`
        : "the dind sidecar's logs";
    case "tls-material-invalid":
    case "tls-failed":
    case "connection-reset":
      return endpoint.kind === "tcp" && endpoint.tls
        ? `the TLS cert dir ${endpoint.tls.certDir}: it must hold ca.pem, cert.pem and key.pem made by the same CA as the daemon's server certificate (docker:dind writes them to /certs/client), and the server certificate must name the host you connect to`
        : "the dind sidecar's logs";
    case "timeout":
      return "the dind sidecar's logs (a daemon that accepts connections but never answers is stuck starting, e.g. on a slow storage driver)";
    case "http-status":
      return "the daemon's logs for the failing request; a 400 on a TLS port means TLS was not used (set DOCKER_TLS_VERIFY=1)";
    case "bad-response":
      return `what listens at ${endpoint.url}: it answers, but not as a Docker daemon does (another service on that ${endpoint.kind === "unix" ? "socket" : "port"}, or a proxy in between?)`;
    case "host-unreachable":
      return "the host name in DOCKER_HOST (the dind sidecar is reached on localhost inside the Pod)";
    default:
      return "the dind sidecar's logs";
  }
}

function dirnameOf(path: string): string {
  const index = path.lastIndexOf("/");
  return index <= 0 ? "/" : path.slice(0, index);
}
