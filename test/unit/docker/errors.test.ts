import { describe, expect, it } from "vitest";
import { parseEndpoint } from "../../../src/docker/endpoint.ts";
import { classifyError, DockerApiError, type DockerErrorKind, hintFor } from "../../../src/docker/errors.ts";

const unix = parseEndpoint("unix:///run/dind/docker.sock", { defaultCertDir: "/certs/client" });
const plain = parseEndpoint("tcp://localhost:2375", { defaultCertDir: "/certs/client" });
const tls = parseEndpoint("tcp://localhost:2376", { defaultCertDir: "/certs/client" });

function nodeError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe("classifyError", () => {
  const table: [string, Error, typeof unix, DockerErrorKind, RegExp][] = [
    [
      "missing socket",
      nodeError("ENOENT"),
      unix,
      "socket-missing",
      /^socket file missing \(\/run\/dind\/docker.sock does not exist\)$/,
    ],
    [
      "stale socket",
      nodeError("ECONNREFUSED"),
      unix,
      "connection-refused",
      /connection refused.*socket file exists/,
    ],
    [
      "closed port",
      nodeError("ECONNREFUSED"),
      plain,
      "connection-refused",
      /connection refused.*nothing listens/,
    ],
    [
      "socket permissions",
      nodeError("EACCES"),
      unix,
      "permission-denied",
      /permission denied on \/run\/dind\/docker.sock/,
    ],
    [
      "unknown CA",
      nodeError("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"),
      tls,
      "tls-failed",
      /^TLS verification failed: .*not trusted by ca.pem/,
    ],
    [
      "leaf not verifiable",
      nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
      tls,
      "tls-failed",
      /TLS verification failed/,
    ],
    [
      "wrong host name",
      nodeError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match"),
      tls,
      "tls-failed",
      /TLS verification failed/,
    ],
    [
      "TLS to a plain port",
      nodeError("ERR_SSL_WRONG_VERSION_NUMBER"),
      tls,
      "tls-failed",
      /does not speak TLS/,
    ],
    [
      "client cert rejected",
      nodeError("ERR_SSL_TLSV1_ALERT_BAD_CERTIFICATE", "alert bad certificate"),
      tls,
      "tls-failed",
      /TLS verification failed/,
    ],
    ["reset on TLS", nodeError("ECONNRESET"), tls, "connection-reset", /rejected our client certificate/],
    [
      "reset on plain",
      nodeError("ECONNRESET"),
      plain,
      "connection-reset",
      /^connection reset by the daemon$/,
    ],
    [
      "bad PEM",
      nodeError("ERR_OSSL_UNSUPPORTED", "error:1E08010C:DECODER routines::unsupported"),
      tls,
      "tls-material-invalid",
      /TLS files unreadable as PEM/,
    ],
    [
      "DNS",
      nodeError("ENOTFOUND", "getaddrinfo ENOTFOUND dind"),
      plain,
      "host-unreachable",
      /host not found/,
    ],
    ["anything else", nodeError("EWHATEVER", "odd"), plain, "other", /^EWHATEVER: odd$/],
  ];
  it.each(table)("%s", (_name, error, endpoint, kind, message) => {
    const classified = classifyError(error, endpoint);
    expect(classified).toBeInstanceOf(DockerApiError);
    expect(classified.kind).toBe(kind);
    expect(classified.message).toMatch(message);
    expect(classified.cause).toBe(error);
  });

  it("passes DockerApiErrors through unchanged", () => {
    const error = new DockerApiError("http-status", "HTTP status 500", { status: 500 });
    expect(classifyError(error, plain)).toBe(error);
  });
});

describe("hintFor", () => {
  it("points at the socket volume for a missing socket", () => {
    expect(hintFor("socket-missing", unix)).toMatch(
      /dind sidecar's logs.*socket volume: \/run\/dind must be the same volume/,
    );
  });
  it("points at the cert dir for TLS problems", () => {
    expect(hintFor("tls-failed", tls)).toMatch(/TLS cert dir \/certs\/client/);
    expect(hintFor("tls-material-missing", tls)).toMatch(/ca.pem, cert.pem and key.pem/);
  });
  it("explains a 400 on a TLS port", () => {
    expect(hintFor("http-status", plain)).toMatch(/DOCKER_TLS_VERIFY=1/);
  });
});
