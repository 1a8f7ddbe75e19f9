// DockerClient over TLS against a node:https server that wants a client certificate, as dockerd --tlsverify
// does, with certificates made the way docker:dind makes them (openssl, as in the integration tests).
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerClient } from "../../../src/docker/client.ts";
import { parseEndpoint } from "../../../src/docker/endpoint.ts";
import { DockerApiError, hintFor } from "../../../src/docker/errors.ts";
import { makeDindCerts, type TlsDirs } from "../../helpers/action-dockerd.ts";

let dir: string;
let certs: TlsDirs;
let impostor: TlsDirs;
let server: Server;
let plain: HttpServer;
let port: number;
let plainPort: number;
/** The subject CN of each client certificate the server accepted. */
const clientNames: string[] = [];

function portOf(listening: Server | HttpServer): number {
  const address = listening.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "docker-client-tls-"));
  [certs, impostor] = await Promise.all([
    makeDindCerts(join(dir, "right"), "dind"),
    makeDindCerts(join(dir, "other"), "impostor"),
  ]);
  const read = (name: string) =>
    import("node:fs/promises").then((fs) => fs.readFile(join(certs.server, name)));
  server = createServer(
    { ca: await read("ca.pem"), cert: await read("cert.pem"), key: await read("key.pem"), requestCert: true },
    (request, response) => {
      clientNames.push(String((request.socket as TLSSocket).getPeerCertificate().subject?.CN));
      response.setHeader("Api-Version", "1.47");
      response.setHeader("Server", "Docker/27.3.1 (linux)");
      response.end("OK");
    },
  );
  plain = createHttpServer((_request, response) => response.end("OK"));
  await Promise.all([
    new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)),
    new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve)),
  ]);
  port = portOf(server);
  plainPort = portOf(plain);
}, 60_000);

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  plain?.closeAllConnections();
  plain?.close();
  await rm(dir, { recursive: true, force: true });
});

function tlsClient(certDir: string, verify = true, to = port): DockerClient {
  return new DockerClient(
    parseEndpoint(`tcp://127.0.0.1:${to}`, { tls: { certDir, verify }, defaultCertDir: "/nonexistent" }),
  );
}

/** A cert dir of ca.pem from one set and cert.pem + key.pem from another. */
async function mixedDir(name: string, caFrom: string, clientFrom: string): Promise<string> {
  const mixed = join(dir, name);
  await cp(clientFrom, mixed, { recursive: true });
  await cp(join(caFrom, "ca.pem"), join(mixed, "ca.pem"));
  return mixed;
}

async function failure(promise: Promise<unknown>): Promise<DockerApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DockerApiError);
    return error as DockerApiError;
  }
  throw new Error("expected the request to fail");
}

describe("DockerClient over TLS with client certificates", () => {
  it("verifies the daemon against ca.pem and presents cert.pem", async () => {
    const before = clientNames.length;
    await expect(tlsClient(certs.client).ping({ timeoutMs: 5000 })).resolves.toEqual({
      apiVersion: "1.47",
      serverVersion: "27.3.1",
    });
    expect(clientNames.slice(before)).toEqual(["dind client"]);
  });

  it("fails verification when ca.pem is another CA, and points at the cert dir", async () => {
    const wrongCa = await mixedDir("wrong-ca", impostor.client, certs.client);
    const client = tlsClient(wrongCa);
    const error = await failure(client.ping({ timeoutMs: 5000 }));
    expect(error.kind).toBe("tls-failed");
    expect(error.message).toMatch(
      /^TLS verification failed: the daemon's certificate is not trusted by ca.pem \([A-Z_]+: .+\)$/,
    );
    expect(hintFor(error.kind, client.endpoint)).toContain(
      `the TLS cert dir ${wrongCa}: it must hold ca.pem, cert.pem and key.pem made by the same CA`,
    );
  });

  it("without DOCKER_TLS_VERIFY, still speaks TLS with the client certificate but does not check the daemon", async () => {
    const wrongCa = await mixedDir("wrong-ca-no-verify", impostor.client, certs.client);
    await expect(tlsClient(wrongCa, false).ping({ timeoutMs: 5000 })).resolves.toMatchObject({
      apiVersion: "1.47",
    });
  });

  it("says the daemon rejected our client certificate when it comes from another CA", async () => {
    const foreignCert = await mixedDir("foreign-cert", certs.client, impostor.client);
    const error = await failure(tlsClient(foreignCert).ping({ timeoutMs: 5000 }));
    expect(["tls-failed", "connection-reset"]).toContain(error.kind);
    expect(error.message).toMatch(/the daemon rejected our client certificate/);
  });

  it("says the endpoint does not speak TLS when it is a plain HTTP port", async () => {
    const error = await failure(tlsClient(certs.client, true, plainPort).ping({ timeoutMs: 5000 }));
    expect(error.kind).toBe("tls-failed");
    expect(error.message).toBe(
      "TLS handshake failed: the endpoint does not speak TLS (a plain port such as 2375?)",
    );
  });

  it("reads the TLS files on every request: files that appear after a failed try are used by the next", async () => {
    const late = join(dir, "late");
    const client = tlsClient(late);
    const missing = await failure(client.ping({ timeoutMs: 5000 }));
    expect(missing.kind).toBe("tls-material-missing");
    expect(missing.message).toBe(`TLS material missing: cannot read ${join(late, "ca.pem")}`);
    await cp(certs.client, late, { recursive: true });
    await expect(client.ping({ timeoutMs: 5000 })).resolves.toMatchObject({ apiVersion: "1.47" });
  });

  it("calls files that are not PEM unreadable, without quoting them", async () => {
    const garbage = join(dir, "garbage");
    await mkdir(garbage);
    const secret = "c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LW11c3Qtbm90LWxlYWs=";
    for (const name of ["ca.pem", "cert.pem", "key.pem"]) {
      await writeFile(join(garbage, name), `-----BEGIN GARBAGE-----\n${secret}\n-----END GARBAGE-----\n`);
    }
    const error = await failure(tlsClient(garbage).ping({ timeoutMs: 5000 }));
    expect(error.kind).toBe("tls-material-invalid");
    expect(error.message).toMatch(/^TLS files unreadable as PEM \(/);
    expect(error.message).not.toContain(secret);
  });
});
