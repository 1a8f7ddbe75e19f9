/** Where a Docker daemon listens, as far as this client needs to know. */
export type Endpoint = UnixEndpoint | TcpEndpoint;

export interface UnixEndpoint {
  kind: "unix";
  /** The string the user gave or we derived, e.g. `unix:///var/run/docker.sock`; used in logs and exports. */
  url: string;
  socketPath: string;
}

export interface TcpEndpoint {
  kind: "tcp";
  url: string;
  host: string;
  port: number;
  /** Present when the daemon speaks TLS. */
  tls?: TlsSettings;
}

export interface TlsSettings {
  /** Directory with `ca.pem`, `cert.pem` and `key.pem`, as docker:dind writes to /certs/client. */
  certDir: string;
  /** Whether the server certificate is checked against `ca.pem` (DOCKER_TLS_VERIFY). */
  verify: boolean;
}

/** 2376 is Docker's registered port for TLS; docker:dind serves TLS there. */
export const DOCKER_TLS_PORT = 2376;
export const DOCKER_PLAIN_PORT = 2375;

export class EndpointError extends Error {
  override name = "EndpointError";
}

export interface ParseOptions {
  /** TLS settings to apply to a tcp:// endpoint; undefined means plain HTTP unless the port is 2376. */
  tls?: TlsSettings;
  /** Cert dir used when TLS is inferred from port 2376. */
  defaultCertDir: string;
}

/**
 * Parses a DOCKER_HOST-style address. Only the forms a job's daemon can have are accepted:
 * `unix:///path` and `tcp://host[:port]`. TLS is used when asked for, or when the port is 2376,
 * because a plain request to a TLS port only yields a confusing HTTP 400.
 */
export function parseEndpoint(address: string, options: ParseOptions): Endpoint {
  const trimmed = address.trim();
  if (trimmed === "")
    throw new EndpointError("the Docker host is empty; expected unix:///path or tcp://host:port");
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === "unix") {
    const socketPath = trimmed.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new EndpointError(
        `"${trimmed}" has no absolute socket path; expected unix:///path/to/docker.sock (three slashes)`,
      );
    }
    return { kind: "unix", url: `unix://${socketPath}`, socketPath };
  }
  if (scheme === "tcp") {
    let parsed: URL;
    try {
      // URL understands [::1]:2375 and rejects garbage; the scheme is swapped so it knows the syntax.
      parsed = new URL(`http://${trimmed.slice("tcp://".length)}`);
    } catch {
      throw new EndpointError(`"${trimmed}" is not a valid tcp:// address; expected tcp://host:port`);
    }
    if (parsed.pathname !== "/" && parsed.pathname !== "") {
      throw new EndpointError(`"${trimmed}" has a path; expected tcp://host:port without a path`);
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    const explicitPort = parsed.port === "" ? undefined : Number(parsed.port);
    const tls =
      options.tls ??
      (explicitPort === DOCKER_TLS_PORT ? { certDir: options.defaultCertDir, verify: true } : undefined);
    const port = explicitPort ?? (tls ? DOCKER_TLS_PORT : DOCKER_PLAIN_PORT);
    const url = `tcp://${parsed.hostname}:${port}`;
    return tls ? { kind: "tcp", url, host, port, tls } : { kind: "tcp", url, host, port };
  }
  if (scheme === undefined) {
    throw new EndpointError(
      `"${trimmed}" has no scheme; expected unix:///path/to/docker.sock or tcp://host:port`,
    );
  }
  throw new EndpointError(
    `"${trimmed}" uses ${scheme}://, which dind-setup does not support; expected unix:// or tcp://`,
  );
}

/** One-line description for logs: the address, plus where TLS files come from. */
export function describeEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === "tcp" && endpoint.tls) {
    const mode = endpoint.tls.verify ? "TLS" : "TLS without server verification";
    return `${endpoint.url} (${mode}, certs in ${endpoint.tls.certDir})`;
  }
  return endpoint.url;
}
