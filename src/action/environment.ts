import type { Endpoint } from "../docker/endpoint.ts";

/**
 * The variables later steps need so the docker CLI, compose and client libraries reach this daemon.
 * TLS switches left over in the job's environment are cleared ("" is "off" for the docker CLI),
 * so a plain endpoint is not spoken to with TLS.
 */
export function dockerEnvironment(
  endpoint: Endpoint,
  current: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const exports: Record<string, string> = { DOCKER_HOST: endpoint.url };
  const clearIfSet = (name: string) => {
    if (current[name] !== undefined && current[name] !== "") exports[name] = "";
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
