// The webhook endpoint faces the internet: hostile traffic against a real scaler (the shipped Role, the real
// apiserver) must not grow what the scaler keeps — metric series, log lines — nor write to Kubernetes.
import { connect, type Socket } from "node:net";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseConfig } from "../../src/scaler/config/load.ts";
import { createLogger } from "../../src/scaler/observe/log.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { unreachableGitHub } from "../helpers/github-unreachable.ts";
import { flood, HOSTILE_KINDS, metricSeries } from "../helpers/hostile.ts";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { startTestScaler, testConfigYaml, WEBHOOK_SECRET } from "../helpers/scaler.ts";
import { deliver, workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");

let ns: TestNamespace;
let scaler: RunningScaler;
const logLines: string[] = [];

async function series(): Promise<string[]> {
  return metricSeries(await (await fetch(`${scaler.url}/metrics`)).text());
}

beforeAll(async () => {
  ns = await createTestNamespace(env, "hostile", { podSecurity: "privileged" });
  scaler = await startTestScaler(env, {
    namespace: ns.name,
    github: unreachableGitHub,
    reconcile: false,
    log: createLogger({ level: "debug", write: (line) => logLines.push(line) }),
  });
});

afterAll(async () => {
  await scaler?.stop();
});

describe("a flood of unsigned requests with random 2 KB headers", () => {
  it("adds no metric series, keeps log lines short, and writes nothing to Kubernetes", async () => {
    // One request of each kind first: the series a rejection of that kind adds (fixed labels) exist from now on.
    await flood(scaler.url, { count: HOSTILE_KINDS.length, concurrency: 1 });
    const before = await series();
    const logsBefore = logLines.length;

    const statuses = await flood(scaler.url, { count: 700 });

    const after = await series();
    expect(after.length).toBe(before.length);
    expect(new Set(after)).toEqual(new Set(before));
    // Only refusals: missing or bad signatures (401), an empty event header (400), a content type not JSON (415).
    expect([...statuses.keys()].every((status) => [400, 401, 415].includes(status))).toBe(true);
    expect(statuses.get(401)).toBeGreaterThan(400);
    // Each bad signature is logged, with at most an escaped 64-character prefix of the headers it came with.
    const lines = logLines.slice(logsBefore);
    expect(lines.length).toBeGreaterThan(350);
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(1024);
    const pods = await ns.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name });
    expect(pods.items).toEqual([]);
  });
});

/** A raw HTTP/1.1 exchange on its own socket: what the server sent, and when it closed the connection. */
interface RawExchange {
  socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<{ text: string; afterMs: number }>;
}

function openRaw(url: string, head: string): RawExchange {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  const started = performance.now();
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
  });
  // The server may reset a connection it refused while we still write: what it answered is what counts.
  socket.on("error", () => {});
  socket.write(head);
  const closed = new Promise<{ text: string; afterMs: number }>((resolve) =>
    socket.on("close", () => resolve({ text, afterMs: performance.now() - started })),
  );
  return { socket, closed };
}

function webhookHead(headers: Record<string, string | number>): string {
  const lines = Object.entries({ host: "scaler", ...headers }).map(([name, value]) => `${name}: ${value}`);
  return `POST /webhook HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

const SIGNED = {
  "content-type": "application/json",
  "x-github-event": "workflow_job",
  "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
};

describe("limits on what a sender can make the scaler hold (real sockets)", () => {
  const limits = {
    maxConnections: 8,
    bodyBudgetBytes: 3 * 1024 * 1024,
    headersTimeoutMs: 600,
    requestTimeoutMs: 1_200,
    timeoutCheckMs: 100,
  };
  let limited: RunningScaler;

  beforeAll(async () => {
    limited = await startTestScaler(env, {
      namespace: ns.name,
      github: unreachableGitHub,
      reconcile: false,
      http: limits,
      // As the chart runs it: probes and metrics on their own port.
      opsPort: 0,
    });
  });

  afterAll(async () => {
    await limited?.stop();
  });

  it.each([
    { name: "no signature header", omit: "x-hub-signature-256", status: 401 },
    { name: "no event header", omit: "x-github-event", status: 400 },
    { name: "no JSON content type", omit: "content-type", status: 415 },
  ])(
    "answers a 1 MB upload with $name ($status) before a byte of its body is sent",
    async ({ omit, status }) => {
      const headers: Record<string, string | number> = { ...SIGNED, "content-length": 1024 * 1024 };
      delete headers[omit];
      // Only the headers go out: an answer proves the server did not wait for the body.
      const { text, afterMs } = await openRaw(limited.url, webhookHead(headers)).closed;
      expect(text).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(text).toMatch(/connection: close/i);
      expect(afterMs).toBeLessThan(limits.requestTimeoutMs);
    },
  );

  it("answers a Content-Length of 10 GB with 413 at once", async () => {
    const head = webhookHead({ ...SIGNED, "content-length": 10 * 1024 ** 3 });
    const { text, afterMs } = await openRaw(limited.url, head).closed;
    expect(text).toMatch(/^HTTP\/1.1 413 /);
    expect(afterMs).toBeLessThan(limits.requestTimeoutMs);
  });

  it("cuts off a slow sender when its request time is up (408), headers or body", async () => {
    const slowBody = openRaw(limited.url, webhookHead({ ...SIGNED, "content-length": 100_000 }));
    const slowHeaders = openRaw(limited.url, "POST /webhook HTTP/1.1\r\nhost: scaler\r\n");
    // A byte every 100 ms: never idle, never done.
    const trickle = setInterval(() => {
      slowBody.socket.write("{");
      slowHeaders.socket.write("x");
    }, 100);
    try {
      const [body, headers] = await Promise.all([slowBody.closed, slowHeaders.closed]);
      expect(body.text).toMatch(/^HTTP\/1.1 408 /);
      expect(body.afterMs).toBeGreaterThanOrEqual(limits.requestTimeoutMs - 50);
      expect(body.afterMs).toBeLessThan(limits.requestTimeoutMs + 1_000);
      expect(headers.text).toMatch(/^HTTP\/1.1 408 /);
      expect(headers.afterMs).toBeLessThan(limits.headersTimeoutMs + 1_000);
    } finally {
      clearInterval(trickle);
    }
  });

  it("shares one byte budget among bodies in flight: past it a delivery is answered 503, and the budget comes back", async () => {
    const held = [0, 1, 2].map(() =>
      openRaw(limited.url, webhookHead({ ...SIGNED, "content-length": 1024 * 1024 })),
    );
    // Let the three take their megabyte each before the fourth asks.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const fourth = await openRaw(limited.url, webhookHead({ ...SIGNED, "content-length": 1024 })).closed;
    expect(fourth.text).toMatch(/^HTTP\/1.1 503 /);
    expect(fourth.text).toMatch(/redelivered later/);
    await Promise.all(held.map((exchange) => exchange.closed));
    const payload = workflowJobPayload({ action: "queued", jobId: 8181 });
    expect((await deliver(limited.url, "workflow_job", payload, { secret: WEBHOOK_SECRET })).status).toBe(
      201,
    );
  });

  it("closes connections past maxConnections at once, counts them, keeps the ops port answering, and serves again when they are gone", async () => {
    const open = Array.from({ length: limits.maxConnections }, () =>
      openRaw(limited.url, "POST /webhook HTTP/1.1\r\n"),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const extra = await openRaw(limited.url, "POST /webhook HTTP/1.1\r\nhost: scaler\r\n\r\n").closed;
    expect(extra.text).toBe("");
    expect(extra.afterMs).toBeLessThan(limits.headersTimeoutMs);
    // The kubelet's probes go to the ops port: a full webhook port doesn't fail them.
    expect((await fetch(`${limited.opsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${limited.opsUrl}/readyz`)).status).toBe(200);
    await Promise.all(open.map((exchange) => exchange.closed));
    expect((await fetch(`${limited.url}/webhook`, { method: "POST" })).status).toBe(415);
    // The webhook port serves the webhook only; the ops port everything but.
    expect((await fetch(`${limited.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${limited.opsUrl}/webhook`, { method: "POST" })).status).toBe(404);
    const metrics = await (await fetch(`${limited.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^dind_k8s_http_connections_dropped_total [1-9]/m);
  });
});

describe("deliveries of another account, and the backlog bound", () => {
  let own: TestNamespace;
  let bounded: RunningScaler;
  const maxQueued = 3;

  beforeAll(async () => {
    own = await createTestNamespace(env, "hostile-backlog", { podSecurity: "privileged" });
    const yaml = testConfigYaml(
      own.name,
      [
        "  - name: bounded",
        "    labels: [dind-k8s]",
        "    maxRunners: 1",
        `    maxQueued: ${maxQueued}`,
        "    minIdle: 0",
      ].join("\n"),
    ).replace("auth: { appId: 1,", "auth: { appId: 1, installationId: 42,");
    bounded = await startTestScaler(env, {
      namespace: own.name,
      config: parseConfig(yaml, "bounded.yaml"),
      github: unreachableGitHub,
      reconcile: false,
    });
  });

  afterAll(async () => {
    await bounded?.stop();
  });

  const queued = (jobId: number, { installation = 42, repository = "octo-org/app" } = {}) =>
    deliver(
      bounded.url,
      "workflow_job",
      { ...workflowJobPayload({ action: "queued", jobId, repository }), installation: { id: installation } },
      { secret: WEBHOOK_SECRET },
    );

  async function jobPods(): Promise<string[]> {
    const pods = await own.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: own.name });
    return pods.items.map((pod) => pod.metadata!.name!).sort();
  }

  it("drops a signed job of another installation or owner: 202, no Pod, counted by reason", async () => {
    const installation = await queued(101, { installation: 43 });
    expect(installation.status).toBe(202);
    expect(installation.body).toMatch(/not the configured account or installation/);
    const owner = await queued(102, { repository: "other-org/app" });
    expect(owner.status).toBe(202);
    expect(await jobPods()).toEqual([]);
    const metrics = await (await fetch(`${bounded.url}/metrics`)).text();
    expect(metrics).toMatch(/^dind_k8s_webhook_foreign_deliveries_total\{reason="installation"\} 1$/m);
    expect(metrics).toMatch(/^dind_k8s_webhook_foreign_deliveries_total\{reason="owner"\} 1$/m);
    expect(metrics).toMatch(/dind_k8s_webhook_deliveries_total\{event="workflow_job",outcome="foreign"\} 2/);
  });

  it("answers 503 past maxQueued without writing, takes duplicates of recorded jobs, and takes more once one goes", async () => {
    for (const jobId of [201, 202, 203]) expect((await queued(jobId)).status).toBe(201);
    const full = await queued(204);
    expect(full.status).toBe(503);
    expect(full.body).toMatch(/bounded has its maxQueued queued jobs; redeliver later/);
    expect((await queued(201)).status).toBe(200);
    expect(await jobPods()).toEqual(["bounded-201-1", "bounded-202-1", "bounded-203-1"]);

    await own.kc.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: "bounded-201-1", namespace: own.name });
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && status !== 201) {
      status = (await queued(204)).status;
      if (status !== 201) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(201);
    expect(await jobPods()).toEqual(["bounded-202-1", "bounded-203-1", "bounded-204-1"]);
  });
});
