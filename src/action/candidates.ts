import { type Endpoint, parseEndpoint, type TlsSettings } from "../docker/endpoint.ts";

/** Where docker:dind writes the client TLS files; the runner Pod mounts the same volume there. */
export const DIND_CLIENT_CERT_DIR = "/certs/client";
export const POD_SOCKET = "unix:///var/run/docker.sock";

export interface CandidateSource {
  /** The `docker-host` input ("" when not given). */
  input: string;
  /** The job's environment (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_TLS, DOCKER_CERT_PATH). */
  env: Readonly<Record<string, string | undefined>>;
  /** Overridable for tests; DIND_CLIENT_CERT_DIR in the action. */
  defaultCertDir?: string;
}

export interface Candidates {
  endpoints: Endpoint[];
  /** Where the list came from, for the log: "input docker-host", "$DOCKER_HOST", "well-known endpoints". */
  origin: string;
}

/** The docker CLI's rule: any non-empty value turns the option on. */
function isSet(value: string | undefined): boolean {
  return value !== undefined && value !== "";
}

/** TLS settings the docker CLI would derive from the environment for a tcp:// host. */
function tlsFromEnv(env: CandidateSource["env"], defaultCertDir: string): TlsSettings | undefined {
  const certDir = isSet(env.DOCKER_CERT_PATH) ? (env.DOCKER_CERT_PATH as string) : defaultCertDir;
  if (isSet(env.DOCKER_TLS_VERIFY)) return { certDir, verify: true };
  if (isSet(env.DOCKER_TLS)) return { certDir, verify: false };
  return undefined;
}

/**
 * Which daemon addresses to wait on: the input, else $DOCKER_HOST, else the Pod's socket, docker:dind's
 * TLS port and its plain port, all at once (the first that answers wins). Throws EndpointError for an
 * address that cannot be used, naming where it came from.
 */
export function candidateEndpoints(source: CandidateSource): Candidates {
  const defaultCertDir = source.defaultCertDir ?? DIND_CLIENT_CERT_DIR;
  const tls = tlsFromEnv(source.env, defaultCertDir);
  const certDir = isSet(source.env.DOCKER_CERT_PATH)
    ? (source.env.DOCKER_CERT_PATH as string)
    : defaultCertDir;
  const given = [
    { value: source.input.trim(), origin: "input docker-host" },
    { value: (source.env.DOCKER_HOST ?? "").trim(), origin: "$DOCKER_HOST" },
  ].find((entry) => entry.value !== "");
  if (given) {
    try {
      const endpoint = parseEndpoint(given.value, tls ? { tls, defaultCertDir } : { defaultCertDir });
      return { endpoints: [endpoint], origin: given.origin };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${given.origin}: ${message}`, { cause: error });
    }
  }
  return {
    endpoints: [
      parseEndpoint(POD_SOCKET, { defaultCertDir }),
      parseEndpoint("tcp://localhost:2376", {
        tls: { certDir, verify: true },
        defaultCertDir,
      }),
      parseEndpoint("tcp://localhost:2375", { defaultCertDir }),
    ],
    origin: "well-known endpoints",
  };
}
