import { describe, expect, it } from "vitest";
import {
  type Clock,
  formatFailure,
  formatProgress,
  type Probe,
  waitForDaemon,
} from "../../../src/action/wait.ts";
import { type Endpoint, parseEndpoint } from "../../../src/docker/endpoint.ts";
import { DockerApiError } from "../../../src/docker/errors.ts";

/** Virtual time: sleeps resolve in time order whenever every task is blocked, so tests take no real time. */
class FakeClock implements Clock {
  time = 0;
  #timers: { at: number; resolve: () => void }[] = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = { at: this.time + ms, resolve };
      this.#timers.push(timer);
      signal.addEventListener("abort", () => {
        this.#timers = this.#timers.filter((other) => other !== timer);
        resolve();
      });
    });
  }

  async run<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    void promise.finally(() => {
      done = true;
    });
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      if (done) break;
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers.shift();
      if (next === undefined) throw new Error("deadlock: nothing scheduled and the wait is not done");
      this.time = Math.max(this.time, next.at);
      next.resolve();
    }
    return promise;
  }
}

const opts = { defaultCertDir: "/certs/client" };
const socket = parseEndpoint("unix:///var/run/docker.sock", opts);
const tlsPort = parseEndpoint("tcp://localhost:2376", opts);
const plainPort = parseEndpoint("tcp://localhost:2375", opts);

const missing = () =>
  new DockerApiError("socket-missing", "socket file missing (/var/run/docker.sock does not exist)");
const refused = () =>
  new DockerApiError("connection-refused", "connection refused (nothing listens on that port)");

/** A probe where each endpoint comes up at a given virtual time (never when absent). */
function probeUpAt(clock: FakeClock, upAt: Map<Endpoint, number>, calls: [string, number][] = []): Probe {
  return async (endpoint) => {
    calls.push([endpoint.url, clock.now()]);
    const at = upAt.get(endpoint);
    if (at !== undefined && clock.now() >= at) return;
    throw endpoint.kind === "unix" ? missing() : refused();
  };
}

describe("waitForDaemon", () => {
  it("returns at once for a daemon that is already up", async () => {
    const clock = new FakeClock();
    const result = await clock.run(
      waitForDaemon([socket], { timeoutMs: 120_000, clock, probe: probeUpAt(clock, new Map([[socket, 0]])) }),
    );
    expect(result).toMatchObject({ ready: true, endpoint: socket, waitedMs: 0 });
    expect(result.attempts[0]?.tries).toBe(1);
  });

  it("backs off from 2 ms, doubling, to a 50 ms cap", async () => {
    const clock = new FakeClock();
    const calls: [string, number][] = [];
    await clock.run(
      waitForDaemon([socket], {
        timeoutMs: 1_500,
        clock,
        probe: probeUpAt(clock, new Map([[socket, 200]]), calls),
      }),
    );
    expect(calls.map(([, at]) => at)).toEqual([0, 2, 6, 14, 30, 62, 112, 162, 212]);
  });

  it("sees a daemon that comes up late within one backoff cap (50 ms)", async () => {
    for (const upAt of [10, 333, 2_000, 7_777]) {
      const clock = new FakeClock();
      const result = await clock.run(
        waitForDaemon([socket], {
          timeoutMs: 120_000,
          clock,
          probe: probeUpAt(clock, new Map([[socket, upAt]])),
        }),
      );
      expect(result.ready).toBe(true);
      expect(result.waitedMs).toBeGreaterThanOrEqual(upAt);
      expect(result.waitedMs - upAt).toBeLessThanOrEqual(50);
    }
  });

  it("waits on all candidates and takes the first that answers; the others stop", async () => {
    const clock = new FakeClock();
    const calls: [string, number][] = [];
    const result = await clock.run(
      waitForDaemon([socket, tlsPort, plainPort], {
        timeoutMs: 120_000,
        clock,
        probe: probeUpAt(clock, new Map([[plainPort, 500]]), calls),
      }),
    );
    expect(result).toMatchObject({ ready: true, endpoint: plainPort });
    expect(calls.filter(([, at]) => at > result.waitedMs)).toEqual([]);
    expect(new Set(calls.map(([url]) => url))).toEqual(new Set([socket.url, tlsPort.url, plainPort.url]));
  });

  it("gives up at the deadline with every endpoint's last error", async () => {
    const clock = new FakeClock();
    const result = await clock.run(
      waitForDaemon([socket, plainPort], { timeoutMs: 3_000, clock, probe: probeUpAt(clock, new Map()) }),
    );
    expect(result.ready).toBe(false);
    expect(result.waitedMs).toBe(3_000);
    expect(result.attempts.map((attempt) => attempt.lastError?.kind)).toEqual([
      "socket-missing",
      "connection-refused",
    ]);
    expect(result.attempts.every((attempt) => attempt.tries > 10)).toBe(true);
  });

  it("caps each try at the per-try timeout and the deadline, and retries a timed-out try at once", async () => {
    const clock = new FakeClock();
    const tries: { at: number; timeoutMs: number }[] = [];
    const hanging: Probe = async (_endpoint, { timeoutMs, signal }) => {
      tries.push({ at: clock.now(), timeoutMs });
      await clock.sleep(timeoutMs, signal);
      throw new DockerApiError("timeout", `no answer within ${timeoutMs} ms`);
    };
    const result = await clock.run(
      waitForDaemon([socket], { timeoutMs: 5_000, tryTimeoutMs: 2_000, clock, probe: hanging }),
    );
    expect(result.ready).toBe(false);
    expect(tries).toEqual([
      { at: 0, timeoutMs: 2_000 },
      { at: 2_000, timeoutMs: 2_000 },
      { at: 4_000, timeoutMs: 1_000 },
    ]);
    expect(result.waitedMs).toBe(5_000);
  });

  it("prints a progress line every few seconds with the last error, none at the deadline", async () => {
    const clock = new FakeClock();
    const lines: string[] = [];
    await clock.run(
      waitForDaemon([socket], {
        timeoutMs: 12_000,
        progressEveryMs: 5_000,
        clock,
        probe: probeUpAt(clock, new Map()),
        onProgress: (line) => lines.push(line),
      }),
    );
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^Still waiting for the Docker daemon \(5\.\d s of 12\.0 s\): unix:\/\/\/var\/run\/docker.sock: socket file missing/,
    );
  });

  it("turns a non-Docker error from the probe into an error it can report", async () => {
    const clock = new FakeClock();
    const result = await clock.run(
      waitForDaemon([socket], {
        timeoutMs: 10,
        clock,
        probe: async () => {
          throw new TypeError("surprise");
        },
      }),
    );
    expect(result.attempts[0]?.lastError).toMatchObject({ kind: "other", message: "surprise" });
  });
});

describe("formatFailure", () => {
  it("names each endpoint, its last error in words and what to check", () => {
    const message = formatFailure(
      [
        { endpoint: socket, tries: 480, lastError: missing() },
        {
          endpoint: tlsPort,
          tries: 1,
          lastError: new DockerApiError(
            "tls-failed",
            "TLS verification failed: the daemon's certificate is not trusted",
          ),
        },
        { endpoint: plainPort, tries: 0, lastError: undefined },
      ],
      120_000,
    );
    expect(message.split("\n")).toEqual([
      "No Docker daemon answered within 120.0 s.",
      "  unix:///var/run/docker.sock: socket file missing (/var/run/docker.sock does not exist) (480 tries)",
      "  tcp://localhost:2376 (TLS, certs in /certs/client): TLS verification failed: the daemon's certificate is not trusted (1 try)",
      "  tcp://localhost:2375: not tried yet (0 tries)",
      "Check:",
      expect.stringMatching(
        /^ {2}- the dind sidecar's logs .*socket volume: \/var\/run must be the same volume/,
      ),
      expect.stringMatching(
        /^ {2}- the TLS cert dir \/certs\/client: it must hold ca.pem, cert.pem and key.pem/,
      ),
      expect.stringMatching(/^ {2}- the dind sidecar's logs$/),
      expect.stringMatching(/^ {2}- that this job runs on a runner with a Docker daemon/),
    ]);
  });
});

describe("formatProgress", () => {
  it("lists each endpoint's last error", () => {
    expect(formatProgress([{ endpoint: plainPort, tries: 3, lastError: refused() }], 5_012, 120_000)).toBe(
      "Still waiting for the Docker daemon (5.0 s of 120.0 s): tcp://localhost:2375: connection refused (nothing listens on that port)",
    );
  });
});

describe("waitForDaemon at the deadline", () => {
  it("keeps the last telling error when the final try is only cut short by the deadline", async () => {
    const clock = new FakeClock();
    const probe: Probe = async (_endpoint, { timeoutMs, signal }) => {
      if (timeoutMs < 2_000) {
        await clock.sleep(timeoutMs, signal);
        throw new DockerApiError("timeout", `no answer within ${timeoutMs} ms (could not connect)`);
      }
      await clock.sleep(130, signal);
      throw new DockerApiError("tls-failed", "TLS verification failed (alert bad certificate)");
    };
    const result = await clock.run(
      waitForDaemon([tlsPort], { timeoutMs: 2_000, tryTimeoutMs: 2_000, clock, probe }),
    );
    expect(result.attempts[0]?.lastError?.message).toBe("TLS verification failed (alert bad certificate)");
  });
});

describe("waitForDaemon progress", () => {
  it("reports on time even while every try hangs for its whole timeout", async () => {
    const clock = new FakeClock();
    const lines: [number, string][] = [];
    const hanging: Probe = async (_endpoint, { timeoutMs, signal }) => {
      await clock.sleep(timeoutMs, signal);
      throw new DockerApiError(
        "timeout",
        `no answer within ${timeoutMs} ms (connected, but the daemon has not answered yet)`,
      );
    };
    await clock.run(
      waitForDaemon([socket], {
        timeoutMs: 11_000,
        tryTimeoutMs: 3_000,
        progressEveryMs: 5_000,
        clock,
        probe: hanging,
        onProgress: (line) => lines.push([clock.now(), line]),
      }),
    );
    expect(lines.map(([at]) => at)).toEqual([5_000, 10_000]);
    expect(lines[0]?.[1]).toContain(
      "no answer within 3000 ms (connected, but the daemon has not answered yet)",
    );
  });

  it("stops reporting once a daemon answered", async () => {
    const clock = new FakeClock();
    const lines: string[] = [];
    await clock.run(
      waitForDaemon([socket], {
        timeoutMs: 60_000,
        clock,
        probe: probeUpAt(clock, new Map([[socket, 7_000]])),
        onProgress: (line) => lines.push(line),
      }),
    );
    expect(lines).toHaveLength(1);
  });
});
