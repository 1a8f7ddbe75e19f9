// The webhook intake on the real apiserver: every bad input gets the right 4xx and writes nothing;
// a queued job becomes exactly one gated runner Pod, however often it is delivered.
import { request } from "node:http";
import { CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SCHEDULING_GATE } from "../../src/scaler/model/keys.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { unreachableGitHub } from "../helpers/github-unreachable.ts";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { startTestScaler, WEBHOOK_SECRET } from "../helpers/scaler.ts";
import { deliver, sign, workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");

let ns: TestNamespace;
let scaler: RunningScaler;

async function podNames(): Promise<string[]> {
  const pods = await ns.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name });
  return pods.items.map((pod) => pod.metadata!.name!).sort();
}

beforeAll(async () => {
  ns = await createTestNamespace(env, "intake", { podSecurity: "privileged" });
  scaler = await startTestScaler(env, { namespace: ns.name, github: unreachableGitHub, reconcile: false });
});

afterAll(async () => {
  await scaler?.stop();
});

describe("bad input", () => {
  const queued = JSON.stringify(workflowJobPayload({ action: "queued", jobId: 999 }));
  const table: {
    name: string;
    event?: string;
    body?: string;
    /** Sign with this secret; null: send no signature. Default: the scaler's secret. */
    secret?: string | null;
    headers?: Record<string, string>;
    status: number;
    message: RegExp;
  }[] = [
    { name: "missing signature", secret: null, status: 401, message: /missing X-Hub-Signature-256/ },
    { name: "wrong secret", secret: "not-the-secret", status: 401, message: /signature does not match/ },
    {
      name: "garbage signature",
      headers: { "x-hub-signature-256": "sha256=zz" },
      status: 401,
      message: /signature does not match/,
    },
    {
      name: "body changed after signing",
      headers: { "x-hub-signature-256": sign(queued.replace("999", "998"), WEBHOOK_SECRET) },
      status: 401,
      message: /signature does not match/,
    },
    { name: "broken JSON", body: "{not json", status: 400, message: /not valid JSON/ },
    {
      name: "form-encoded body",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      status: 415,
      message: /application\/json/,
    },
    {
      name: "missing event header",
      headers: { "x-github-event": "" },
      status: 400,
      message: /X-GitHub-Event/,
    },
    { name: "unknown event", event: "push", status: 202, message: /ignored event push/ },
    {
      name: "workflow_job without ids",
      body: JSON.stringify({
        action: "queued",
        workflow_job: { labels: ["dind-k8s"] },
        repository: { full_name: "o/r" },
      }),
      status: 400,
      message: /workflow_job.id/,
    },
    {
      name: "labels of no runner set",
      body: JSON.stringify(workflowJobPayload({ action: "queued", jobId: 1000, labels: ["gpu"] })),
      status: 202,
      message: /no runner set/,
    },
    {
      name: "ping",
      event: "ping",
      body: JSON.stringify({ zen: "Design for failure." }),
      status: 200,
      message: /pong/,
    },
  ];

  it.each(table)("$name → $status", async ({ event, body, secret, headers, status, message }) => {
    const payload = body ?? queued;
    const result = await deliver(scaler.url, event ?? "workflow_job", payload, {
      secret: secret === null ? undefined : (secret ?? WEBHOOK_SECRET),
      headers: headers ?? {},
    });
    expect(result.status).toBe(status);
    expect(result.body).toMatch(message);
  });

  /** POSTs `body` with node:http, declared (content-length) or chunked; resolves with the status. */
  function postRaw(body: Buffer, { chunked }: { chunked: boolean }): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const url = new URL(`${scaler.url}/webhook`);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: "/webhook",
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-github-event": "workflow_job",
            "x-hub-signature-256": sign(body.toString(), WEBHOOK_SECRET),
            ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": body.length }),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", (error: NodeJS.ErrnoException) => {
        // The server closes the socket while we are still sending: fine once it has answered.
        if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
      });
      if (chunked) {
        for (let offset = 0; offset < body.length; offset += 64 * 1024)
          req.write(body.subarray(offset, offset + 64 * 1024));
        req.end();
      } else {
        req.end(body);
      }
    });
  }

  it.each([
    { chunked: false, how: "declared in Content-Length: refused before reading" },
    { chunked: true, how: "chunked: refused once past the limit" },
  ])("answers 413 to a 10 MB body ($how) and stays up", async ({ chunked }) => {
    const huge = Buffer.alloc(10 * 1024 * 1024, 0x20);
    expect(await postRaw(huge, { chunked })).toBe(413);
    expect((await fetch(`${scaler.url}/healthz`)).status).toBe(200);
  });

  it("wrote nothing to Kubernetes", async () => {
    expect(await podNames()).toEqual([]);
  });
});

describe("queued jobs", () => {
  it("records a queued job as one scheduling-gated Pod, and a duplicate delivery is a no-op", async () => {
    const payload = workflowJobPayload({ action: "queued", jobId: 4242, runAttempt: 2 });
    const first = await deliver(scaler.url, "workflow_job", payload, { secret: WEBHOOK_SECRET });
    expect(first.status).toBe(201);
    const again = await deliver(scaler.url, "workflow_job", payload, { secret: WEBHOOK_SECRET });
    expect(again.status).toBe(200);
    expect(await podNames()).toEqual(["dind-k8s-4242-2"]);
    const pod = await ns.kc
      .makeApiClient(CoreV1Api)
      .readNamespacedPod({ name: "dind-k8s-4242-2", namespace: ns.name });
    expect(pod.spec?.schedulingGates).toEqual([{ name: SCHEDULING_GATE }]);
    expect(pod.metadata?.labels?.["dind-k8s.io/job-id"]).toBe("4242");
  });

  it("accepts a delivery signed with the previous secret while rotating", async () => {
    const rotating = await startTestScaler(env, {
      namespace: ns.name,
      github: unreachableGitHub,
      reconcile: false,
      secrets: ["new-secret", WEBHOOK_SECRET],
    });
    try {
      const payload = workflowJobPayload({ action: "queued", jobId: 5151 });
      expect((await deliver(rotating.url, "workflow_job", payload, { secret: WEBHOOK_SECRET })).status).toBe(
        201,
      );
      expect((await deliver(rotating.url, "workflow_job", payload, { secret: "new-secret" })).status).toBe(
        200,
      );
      expect((await deliver(rotating.url, "workflow_job", payload, { secret: "old-old" })).status).toBe(401);
    } finally {
      await rotating.stop();
    }
  });

  it("answers 503 when Kubernetes refuses the write, so GitHub shows the delivery as failed", async () => {
    // A scaler pointed at a namespace it has no Role in: the create is forbidden.
    const other = await createTestNamespace(env, "intake-denied");
    const scalerElsewhere = await startTestScaler(env, {
      namespace: other.name,
      github: unreachableGitHub,
      reconcile: false,
    });
    try {
      // Take the scaler's permissions away after it started.
      await ns.kc
        .makeApiClient(RbacAuthorizationV1Api)
        .deleteCollectionNamespacedRoleBinding({ namespace: other.name });
      const result = await deliver(
        scalerElsewhere.url,
        "workflow_job",
        workflowJobPayload({ action: "queued", jobId: 6161 }),
        {
          secret: WEBHOOK_SECRET,
        },
      );
      expect(result.status).toBe(503);
      expect(result.body).toMatch(/redeliver/);
    } finally {
      await scalerElsewhere.stop();
    }
  });

  it("serves /healthz, /readyz (ready without GitHub) and /metrics", async () => {
    expect((await fetch(`${scaler.url}/healthz`)).status).toBe(200);
    // GitHub is unreachable here, and intake needs none of it: ready.
    const ready = await fetch(`${scaler.url}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`${scaler.url}/metrics`)).text();
    expect(metrics).toMatch(/^dind_k8s_github_reachable 0$/m);
    expect(metrics).toMatch(
      /dind_k8s_webhook_deliveries_total\{event="unverified",outcome="unauthorized"\} [1-9]/,
    );
    // A verified event GitHub may send but the scaler doesn't take is "other", never its name.
    expect(metrics).toMatch(/dind_k8s_webhook_deliveries_total\{event="other",outcome="ignored"\} 1/);
    expect(metrics).toMatch(/dind_k8s_webhook_deliveries_total\{event="ping",outcome="ping"\} 1/);
    expect(metrics).not.toMatch(/event="push"/);
    expect(metrics).toMatch(/dind_k8s_jobs_queued_total\{runner_set="dind-k8s"\} 1/);
  });
});
