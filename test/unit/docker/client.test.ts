// DockerClient against real servers of the test's own (node:http and node:net on unix sockets and loopback
// ports): what the action sees from a daemon that answers, errs, stalls, is not there, or is not a daemon.
import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type RequestListener, type Server } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerClient } from "../../../src/docker/client.ts";
import { parseEndpoint } from "../../../src/docker/endpoint.ts";
import { DockerApiError, hintFor } from "../../../src/docker/errors.ts";

const execFileAsync = promisify(execFile);

let dir: string;
const servers: (Server | NetServer)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "docker-client-"));
});
afterAll(async () => {
  for (const server of servers) {
    if ("closeAllConnections" in server) server.closeAllConnections();
    server.close();
  }
  await rm(dir, { recursive: true, force: true });
});

function unixClient(socketPath: string, options?: ConstructorParameters<typeof DockerClient>[1]) {
  return new DockerClient(parseEndpoint(`unix://${socketPath}`, { defaultCertDir: "/nonexistent" }), options);
}

async function listen(server: Server | NetServer, socketPath: string): Promise<void> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
}

/** A fake daemon on a unix socket of its own. */
async function fakeDaemon(
  name: string,
  handler: RequestListener,
  options?: ConstructorParameters<typeof DockerClient>[1],
): Promise<DockerClient> {
  const socketPath = join(dir, `${name}.sock`);
  await listen(createServer(handler), socketPath);
  return unixClient(socketPath, options);
}

/** Something on a unix socket that is not an HTTP server: it gets the raw connection. */
async function rawServer(name: string, onConnection: (socket: Socket) => void): Promise<DockerClient> {
  const socketPath = join(dir, `${name}.sock`);
  await listen(createNetServer(onConnection), socketPath);
  return unixClient(socketPath);
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

  it("returns each endpoint's JSON as the daemon sent it, from the Engine API path it belongs to", async () => {
    const bodies: Record<string, unknown> = {
      "/info": { Driver: "overlay2", DockerRootDir: "/var/lib/docker", ServerVersion: "27.3.1", NCPU: 2 },
      "/system/df": {
        LayersSize: 1234,
        Images: [{ Size: 10, SharedSize: 0, Containers: 1 }],
        BuildCache: null,
      },
      "/containers/json": [{ Id: "abc", Names: ["/left-running"], Image: "busybox", State: "running" }],
      "/networks/my%20net": {
        Name: "my net",
        Driver: "bridge",
        Options: { "com.docker.network.driver.mtu": "1450" },
      },
    };
    const client = await fakeDaemon("typed", (request, response) => {
      const body = bodies[request.url ?? ""];
      response.statusCode = body === undefined ? 404 : 200;
      response.setHeader("Content-Type", "application/json");
      response.end(JSON.stringify(body ?? { message: `no route ${request.url}` }));
    });
    const options = { timeoutMs: 1000 };
    await expect(client.info(options)).resolves.toEqual(bodies["/info"]);
    await expect(client.systemDf(options)).resolves.toEqual(bodies["/system/df"]);
    await expect(client.runningContainers(options)).resolves.toEqual(bodies["/containers/json"]);
    await expect(client.network("my net", options)).resolves.toEqual(bodies["/networks/my%20net"]);
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

  it("decodes a chunked UTF-8 body split inside a character", async () => {
    const text = JSON.stringify({ Driver: "naïve-driver" });
    const bytes = Buffer.from(text);
    const split = bytes.indexOf(Buffer.from("ï")) + 1;
    const client = await fakeDaemon("chunked", (_request, response) => {
      response.write(bytes.subarray(0, split));
      setTimeout(() => response.end(bytes.subarray(split)), 10);
    });
    await expect(client.info({ timeoutMs: 1000 })).resolves.toEqual({ Driver: "naïve-driver" });
  });

  it("opens a connection per request and closes it after the answer: nothing pooled between tries", async () => {
    const connectionHeaders: (string | undefined)[] = [];
    const socketPath = join(dir, "no-pool.sock");
    const server = createServer((request, response) => {
      connectionHeaders.push(request.headers.connection);
      response.end("OK");
    });
    await listen(server, socketPath);
    const client = unixClient(socketPath);
    await client.ping({ timeoutMs: 1000 });
    await client.ping({ timeoutMs: 1000 });
    expect(connectionHeaders).toEqual(["close", "close"]);
    // The server side sees the connection go once the answer is in.
    for (let i = 0; i < 50; i++) {
      const open = await new Promise<number>((resolve) =>
        server.getConnections((_e, count) => resolve(count)),
      );
      if (open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await new Promise<number>((resolve) => server.getConnections((_e, count) => resolve(count)))).toBe(
      0,
    );
  });

  describe("status mapping", () => {
    it.each([
      [
        500,
        JSON.stringify({ message: "storage is on fire" }),
        "HTTP status 500 on GET /info: storage is on fire",
      ],
      [404, JSON.stringify({ message: "page not found" }), "HTTP status 404 on GET /info: page not found"],
      [
        400,
        "Client sent an HTTP request to an HTTPS server.\n",
        "HTTP status 400 on GET /info: Client sent an HTTP request to an HTTPS server.",
      ],
      [
        502,
        "<html>\n<body>Bad gateway</body>\n</html>",
        "HTTP status 502 on GET /info: <html> <body>Bad gateway</body> </html>",
      ],
      [503, "", "HTTP status 503 on GET /info"],
    ])("%i becomes an http-status error with the daemon's words", async (status, body, message) => {
      const client = await fakeDaemon(`status-${status}`, (_request, response) => {
        response.statusCode = status;
        response.end(body);
      });
      const error = await failure(client.info({ timeoutMs: 1000 }));
      expect(error.kind).toBe("http-status");
      expect(error.status).toBe(status);
      expect(error.message).toBe(message);
    });

    it("takes any 2xx as an answer, and a 3xx as an error (a daemon never redirects)", async () => {
      const created = await fakeDaemon("201", (_request, response) => {
        response.statusCode = 201;
        response.end("{}");
      });
      await expect(created.info({ timeoutMs: 1000 })).resolves.toEqual({});
      const moved = await fakeDaemon("301", (_request, response) => {
        response.writeHead(301, { Location: "/elsewhere" });
        response.end();
      });
      const error = await failure(moved.info({ timeoutMs: 1000 }));
      expect([error.kind, error.status]).toEqual(["http-status", 301]);
    });

    it("cuts a long error body to one line of 200 characters", async () => {
      const client = await fakeDaemon("long-error", (_request, response) => {
        response.statusCode = 500;
        response.end(`${"x".repeat(150)}\n${"y".repeat(150)}`);
      });
      const error = await failure(client.info({ timeoutMs: 1000 }));
      expect(error.message).toBe(`HTTP status 500 on GET /info: ${"x".repeat(150)} ${"y".repeat(49)}…`);
    });
  });

  describe("answers that are not a Docker daemon's", () => {
    it("says so when a 2xx body is not JSON, and when /_ping does not say OK", async () => {
      const client = await fakeDaemon("html", (_request, response) => response.end("<html>proxy</html>"));
      const notJson = await failure(client.info({ timeoutMs: 1000 }));
      expect(notJson.kind).toBe("bad-response");
      expect(notJson.message).toBe("GET /info did not return JSON: <html>proxy</html>");
      const badPing = await failure(client.ping({ timeoutMs: 1000 }));
      expect(badPing.kind).toBe("bad-response");
      expect(badPing.message).toBe("/_ping answered: <html>proxy</html> instead of OK");
      expect(hintFor(badPing.kind, client.endpoint)).toMatch(
        /^what listens at unix:\/\/.*html\.sock: it answers, but not as a Docker daemon does \(another service on that socket/,
      );
    });

    it("calls an answer that is not HTTP at all a bad response, with the parser's reason", async () => {
      const client = await rawServer("ssh", (socket) => {
        socket.on("error", () => {});
        socket.end("SSH-2.0-OpenSSH_9.6\r\n");
      });
      const error = await failure(client.ping({ timeoutMs: 1000 }));
      expect(error.kind).toBe("bad-response");
      expect(error.message).toMatch(/^the answer is not HTTP from a Docker daemon \(HPE_[A-Z_]+: .+\)$/);
    });

    it("names a connection closed before any answer", async () => {
      const client = await rawServer("hang-up", (socket) => {
        socket.once("data", () => socket.end());
      });
      const error = await failure(client.ping({ timeoutMs: 1000 }));
      expect(error.kind).toBe("bad-response");
      expect(error.message).toBe("the connection closed without an HTTP response");
    });

    it("names a body cut off before its announced length", async () => {
      const client = await rawServer("cut-off", (socket) => {
        socket.once("data", () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"Driver":'));
      });
      const error = await failure(client.info({ timeoutMs: 1000 }));
      expect(error.kind).toBe("bad-response");
      expect(error.message).toBe("the connection closed before the whole response body arrived");
    });

    it("calls a malformed chunked body a bad response", async () => {
      const client = await rawServer("bad-chunk", (socket) => {
        socket.on("error", () => {});
        socket.once("data", () =>
          socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
        );
      });
      const error = await failure(client.info({ timeoutMs: 1000 }));
      expect(error.kind).toBe("bad-response");
      expect(error.message).toMatch(
        /^the answer is not HTTP from a Docker daemon \(HPE_INVALID_CHUNK_SIZE: /,
      );
    });

    it("refuses a body announced larger than the limit without reading it", async () => {
      let written = 0;
      const client = await rawServer("announced-huge", (socket) => {
        socket.on("error", () => {});
        socket.once("data", () => {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
          // Keep the connection open: the client must not wait for the body.
          written = 1;
        });
      });
      const started = performance.now();
      const error = await failure(client.info({ timeoutMs: 5000 }));
      expect(written).toBe(1);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(error.kind).toBe("bad-response");
      expect(error.message).toBe(
        "GET /info answered with more than 32 MiB; a Docker daemon does not send that much here",
      );
    });

    it("stops reading an endless body at the limit and hangs up", async () => {
      let serverSawClose = false;
      const client = await fakeDaemon(
        "endless",
        (request, response) => {
          const chunk = Buffer.alloc(64 * 1024, "a");
          const pump = () => {
            while (!response.destroyed && response.write(chunk)) {}
            if (!response.destroyed) response.once("drain", pump);
          };
          request.socket.once("close", () => (serverSawClose = true));
          pump();
        },
        { maxBodyBytes: 1024 * 1024 },
      );
      const error = await failure(client.systemDf({ timeoutMs: 5000 }));
      expect(error.kind).toBe("bad-response");
      expect(error.message).toBe(
        "GET /system/df answered with more than 1 MiB; a Docker daemon does not send that much here",
      );
      for (let i = 0; i < 50 && !serverSawClose; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(serverSawClose).toBe(true);
    });

    it("reads a body up to the default limit (a busy daemon's /system/df)", async () => {
      const images = Array.from({ length: 20_000 }, (_, i) => ({ Size: i, SharedSize: 0, Containers: 0 }));
      const client = await fakeDaemon("big-df", (_request, response) =>
        response.end(JSON.stringify({ Images: images })),
      );
      const df = await client.systemDf({ timeoutMs: 5000 });
      expect(df.Images).toHaveLength(20_000);
    });
  });

  describe("timeouts and abort", () => {
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
      expect(hintFor(error.kind, client.endpoint)).toMatch(/accepts connections but never answers/);
      expect(elapsed).toBeGreaterThanOrEqual(140);
      expect(elapsed).toBeLessThan(1000);
    });

    it("times out the whole request, not only silence: a body that trickles in is cut at the deadline", async () => {
      const client = await fakeDaemon("trickle", (_request, response) => {
        response.write("{");
        const timer = setInterval(() => response.write(" "), 20);
        response.once("close", () => clearInterval(timer));
      });
      const started = performance.now();
      const error = await failure(client.info({ timeoutMs: 200 }));
      expect(error.kind).toBe("timeout");
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it("stops at once when aborted, and does not start when already aborted", async () => {
      const client = await fakeDaemon("abort", () => {});
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const started = performance.now();
      const error = await failure(client.ping({ timeoutMs: 5000, signal: controller.signal }));
      expect(error.kind).toBe("aborted");
      expect(performance.now() - started).toBeLessThan(1000);
      const before = await failure(client.ping({ timeoutMs: 5000, signal: AbortSignal.abort() }));
      expect(before.kind).toBe("aborted");
    });
  });

  describe("no daemon there", () => {
    it("names a missing socket file", async () => {
      const client = unixClient(join(dir, "absent.sock"));
      const error = await failure(client.ping({ timeoutMs: 1000 }));
      expect(error.kind).toBe("socket-missing");
      expect(error.message).toBe(`socket file missing (${dir}/absent.sock does not exist)`);
      expect(hintFor(error.kind, client.endpoint)).toContain(
        `the socket volume: ${dir} must be the same volume`,
      );
    });

    it("calls a socket path nobody listens on connection refused", async () => {
      // What a dead daemon leaves behind: the path exists, nothing accepts on it.
      const stale = join(dir, "stale.sock");
      await writeFile(stale, "");
      const error = await failure(unixClient(stale).ping({ timeoutMs: 1000 }));
      expect(error.kind).toBe("connection-refused");
      expect(error.message).toBe("connection refused (the socket file exists but no daemon listens on it)");
    });

    it("calls a closed TCP port connection refused, fast", async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("no TCP address");
      await new Promise((resolve) => server.close(resolve));
      const client = new DockerClient(
        parseEndpoint(`tcp://127.0.0.1:${address.port}`, { defaultCertDir: "/x" }),
      );
      const started = performance.now();
      const error = await failure(client.ping({ timeoutMs: 2000 }));
      expect(error.kind).toBe("connection-refused");
      expect(error.message).toBe("connection refused (nothing listens on that port)");
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it.skipIf(process.getuid?.() !== 0)(
      "names permission denied on a socket the user may not open (a runner user outside the socket's group)",
      async () => {
        // Root opens any socket, so the client runs as nobody in a child process, as the runner user would.
        const socketDir = join(dir, "private");
        const socketPath = join(socketDir, "docker.sock");
        await execFileAsync("mkdir", ["-m", "755", socketDir]);
        await chmod(dir, 0o755);
        await listen(
          createServer((_request, response) => response.end("OK")),
          socketPath,
        );
        await chmod(socketPath, 0o660);
        const script = `
          import { DockerClient } from ${JSON.stringify(new URL("../../../src/docker/client.ts", import.meta.url).href)};
          import { hintFor } from ${JSON.stringify(new URL("../../../src/docker/errors.ts", import.meta.url).href)};
          const client = new DockerClient({ kind: "unix", url: "unix://${socketPath}", socketPath: ${JSON.stringify(socketPath)} });
          try { await client.ping({ timeoutMs: 1000 }); console.log(JSON.stringify({ ok: true })); }
          catch (error) { console.log(JSON.stringify({ kind: error.kind, message: error.message, hint: hintFor(error.kind, client.endpoint) })); }
        `;
        const { stdout } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script], {
          uid: 65534,
          gid: 65534,
        });
        expect(JSON.parse(stdout)).toEqual({
          kind: "permission-denied",
          message: `permission denied on ${socketPath} (is the runner user in the socket's group?)`,
          hint: "the socket's group: start dockerd with --group=<the runner's gid>",
        });
        // The same socket answers a user who may open it: the failure above is the permission alone.
        await expect(unixClient(socketPath).ping({ timeoutMs: 1000 })).resolves.toBeDefined();
      },
    );
  });
});

describe("DockerClient over plain TCP", () => {
  it("talks plain HTTP to a tcp:// endpoint, with a Host header naming it", async () => {
    let host: string | undefined;
    const server = createServer((request, response) => {
      host = request.headers.host;
      response.end("OK");
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    const client = new DockerClient(
      parseEndpoint(`tcp://127.0.0.1:${address.port}`, { defaultCertDir: "/x" }),
    );
    await expect(client.ping({ timeoutMs: 1000 })).resolves.toMatchObject({ apiVersion: undefined });
    expect(host).toBe(`127.0.0.1:${address.port}`);
  });
});
