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
      "TLS to a plain port, as node:https reports it",
      nodeError(
        "EPROTO",
        "C0:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl/record/ssl3_record.c:354:\n",
      ),
      tls,
      "tls-failed",
      /does not speak TLS/,
    ],
    [
      "not HTTP (llhttp)",
      nodeError("HPE_INVALID_CONSTANT", "Parse Error: Expected HTTP/"),
      unix,
      "bad-response",
      /^the answer is not HTTP from a Docker daemon \(HPE_INVALID_CONSTANT: Parse Error: Expected HTTP\/\)$/,
    ],
    [
      "client cert rejected (what Node 24 reports)",
      nodeError(
        "ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE",
        "40AD65F3067F0000:error:0A000412:SSL routines:ssl3_read_bytes:ssl/tls alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number 42\n",
      ),
      tls,
      "tls-failed",
      /^TLS verification failed: the daemon rejected our client certificate \(cert.pem is not signed by the CA the daemon trusts\)$/,
    ],
    [
      "other handshake failure, OpenSSL noise trimmed",
      nodeError(
        "ERR_SSL_NO_PROTOCOLS_AVAILABLE",
        "C0:error:0A0000BF:SSL routines:tls_setup_handshake:no protocols available:../ssl/statem.c:1:\n",
      ),
      tls,
      "tls-failed",
      /^TLS verification failed \(ERR_SSL_NO_PROTOCOLS_AVAILABLE: no protocols available\)$/,
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
    expect(hintFor("tls-material-missing", tls)).toMatch(
      /docker:dind writes ca.pem, cert.pem and key.pem to \/certs\/client when DOCKER_TLS_CERTDIR=\/certs; the runner container must mount that volume/,
    );
  });
  it("explains a 400 on a TLS port", () => {
    expect(hintFor("http-status", plain)).toMatch(/DOCKER_TLS_VERIFY=1/);
  });
});
