import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type RequestListener, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerClient } from "../../../src/docker/client.ts";
import { parseEndpoint } from "../../../src/docker/endpoint.ts";
import type { DockerApiError } from "../../../src/docker/errors.ts";

let dir: string;
const servers: Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "docker-client-"));
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await rm(dir, { recursive: true, force: true });
});

/** A fake daemon on a unix socket of its own. */
async function fakeDaemon(name: string, handler: RequestListener): Promise<DockerClient> {
  const socketPath = join(dir, `${name}.sock`);
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return new DockerClient(parseEndpoint(`unix://${socketPath}`, { defaultCertDir: "/nonexistent" }));
}

async function failure(promise: Promise<unknown>): Promise<DockerApiError> {
  try {
    await promise;
  } catch (error) {
    return error as DockerApiError;
  }
  throw new Error("expected the request to fail");
}

describe("DockerClient over a unix socket", () => {
  it("pings, and reads JSON from the paths it asks for", async () => {
    const seen: string[] = [];
    const client = await fakeDaemon("ok", (request, response) => {
      seen.push(`${request.method} ${request.url}`);
      if (request.url === "/_ping") return response.end("OK");
      response.setHeader("Content-Type", "application/json");
      response.end(JSON.stringify({ Version: "27.3.1", ApiVersion: "1.47" }));
    });
    await expect(client.ping({ timeoutMs: 1000 })).resolves.toEqual({
      apiVersion: undefined,
      serverVersion: undefined,
    });
    await expect(client.version({ timeoutMs: 1000 })).resolves.toEqual({
      Version: "27.3.1",
      ApiVersion: "1.47",
    });
    expect(seen).toEqual(["GET /_ping", "GET /version"]);
  });

  it("reads the API and engine versions from /_ping's headers, undefined where an engine sends none", async () => {
    const docker = await fakeDaemon("headers", (_request, response) => {
      response.setHeader("API-Version", "1.47");
      response.setHeader("Server", "Docker/27.3.1 (linux)");
      response.end("OK");
    });
    await expect(docker.ping({ timeoutMs: 1000 })).resolves.toEqual({
      apiVersion: "1.47",
      serverVersion: "27.3.1",
    });
    const other = await fakeDaemon("no-headers", (_request, response) => {
      response.setHeader("Server", "Libpod/5.0 (linux)");
      response.end("OK");
    });
    await expect(other.ping({ timeoutMs: 1000 })).resolves.toEqual({
      apiVersion: undefined,
      serverVersion: undefined,
    });
  });

  it("reports an HTTP error status with the daemon's message", async () => {
    const client = await fakeDaemon("500", (_request, response) => {
      response.statusCode = 500;
      response.end(JSON.stringify({ message: "storage is on fire" }));
    });
    const error = await failure(client.info({ timeoutMs: 1000 }));
    expect(error.kind).toBe("http-status");
    expect(error.status).toBe(500);
    expect(error.message).toBe("HTTP status 500 on GET /info: storage is on fire");
  });

  it("says so when a 2xx body is not JSON, and when /_ping does not say OK", async () => {
    const client = await fakeDaemon("html", (_request, response) => response.end("<html>proxy</html>"));
    const notJson = await failure(client.info({ timeoutMs: 1000 }));
    expect(notJson.kind).toBe("bad-response");
    expect(notJson.message).toBe("GET /info did not return JSON: <html>proxy</html>");
    const badPing = await failure(client.ping({ timeoutMs: 1000 }));
    expect(badPing.message).toMatch(/\/_ping answered: <html>proxy<\/html> instead of OK/);
  });

  it("waits for a slow daemon within the timeout: a starting daemon answers queued requests", async () => {
    const client = await fakeDaemon("slow", (_request, response) => {
      setTimeout(() => response.end("OK"), 300);
    });
    const started = performance.now();
    await client.ping({ timeoutMs: 2000 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("times out a connected daemon that does not answer, and says it was connected", async () => {
    const client = await fakeDaemon("mute", () => {});
    const started = performance.now();
    const error = await failure(client.ping({ timeoutMs: 150 }));
    const elapsed = performance.now() - started;
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe("no answer within 150 ms (connected, but the daemon has not answered yet)");
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
  });

  it("stops at once when aborted", async () => {
    const client = await fakeDaemon("abort", () => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(client.ping({ timeoutMs: 5000, signal: controller.signal }));
    expect(error.kind).toBe("aborted");
  });

  it("names a missing socket file", async () => {
    const client = new DockerClient(parseEndpoint(`unix://${dir}/absent.sock`, { defaultCertDir: "/x" }));
    const error = await failure(client.ping({ timeoutMs: 1000 }));
    expect(error.kind).toBe("socket-missing");
    expect(error.message).toBe(`socket file missing (${dir}/absent.sock does not exist)`);
  });

  it("calls a socket path nobody listens on connection refused", async () => {
    // What a dead daemon leaves behind: the path exists, nothing accepts on it.
    const stale = join(dir, "stale.sock");
    writeFileSync(stale, "");
    const client = new DockerClient(parseEndpoint(`unix://${stale}`, { defaultCertDir: "/x" }));
    const error = await failure(client.ping({ timeoutMs: 1000 }));
    expect(error.kind).toBe("connection-refused");
  });
});

describe("DockerClient over TCP", () => {
  it("names the TLS file it cannot read, and only its path", async () => {
    const client = new DockerClient(
      parseEndpoint("tcp://127.0.0.1:2376", { defaultCertDir: join(dir, "no-certs") }),
    );
    const error = await failure(client.ping({ timeoutMs: 1000 }));
    expect(error.kind).toBe("tls-material-missing");
    expect(error.message).toBe(`TLS material missing: cannot read ${join(dir, "no-certs", "ca.pem")}`);
  });

  it("talks plain HTTP to a tcp:// endpoint", async () => {
    const server = createServer((_request, response) => response.end("OK"));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    const client = new DockerClient(
      parseEndpoint(`tcp://127.0.0.1:${address.port}`, { defaultCertDir: "/x" }),
    );
    await expect(client.ping({ timeoutMs: 1000 })).resolves.toMatchObject({ apiVersion: undefined });
  });
});
