import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhooks } from "@octokit/webhooks";
import { afterEach, describe, expect, it } from "vitest";
import { useGitHubStandIns } from "../helpers/github-standin/fixture.ts";

const APP_ID = 31;
const PAT = "ghp_deliveries";
const SECRET = "webhook-secret";
const fixture = useGitHubStandIns({ appId: APP_ID, token: PAT });
const { standIn } = fixture;
const client = fixture.appClient;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A webhook receiver that verifies signatures like the scaler does and answers `status`. */
async function receiver(
  status: () => number,
): Promise<{ url: string; received: { guid: string; event: string }[] }> {
  const webhooks = new Webhooks({ secret: SECRET });
  const received: { guid: string; event: string }[] = [];
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const signature = String(request.headers["x-hub-signature-256"] ?? "");
    if (!(await webhooks.verify(body, signature))) {
      response.writeHead(401).end();
      return;
    }
    received.push({
      guid: String(request.headers["x-github-delivery"]),
      event: String(request.headers["x-github-event"]),
    });
    response.writeHead(status()).end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`, received };
}

const queued = (jobId: number) => ({
  action: "queued",
  workflow_job: { id: jobId, labels: ["dind-k8s"], status: "queued" },
  repository: { id: 1000, full_name: "acme/app" },
});

describe("webhook sender", () => {
  it("signs deliveries (sha256) so @octokit/webhooks verifies them, and records the receiver's status", async () => {
    const server = await standIn();
    let answer = 201;
    const hook = await receiver(() => answer);
    server.setHook({ url: hook.url, secret: SECRET });
    const ok = await server.deliver("workflow_job", queued(1));
    answer = 503;
    const failed = await server.deliver("workflow_job", queued(2));
    const wrongSecret = await server.deliver("workflow_job", queued(3), { secret: "not-the-secret" });
    expect([ok.statusCode, failed.statusCode, wrongSecret.statusCode]).toEqual([201, 503, 401]);
    expect(hook.received.map((r) => r.guid)).toEqual([ok.guid, failed.guid]);
    expect(server.deliveries().map((d) => [d.event, d.action, d.statusCode])).toEqual([
      ["workflow_job", "queued", 201],
      ["workflow_job", "queued", 503],
      ["workflow_job", "queued", 401],
    ]);
  });

  it("records a dropped delivery as failed without sending it", async () => {
    const server = await standIn();
    const hook = await receiver(() => 200);
    const dropped = await server.deliver("workflow_job", queued(4), {
      to: hook.url,
      secret: SECRET,
      drop: true,
    });
    expect(dropped.statusCode).toBe(0);
    expect(hook.received).toEqual([]);
  });
});

describe("failed deliveries and redelivery", () => {
  it("lists failed deliveries of the App hook since a time and redelivers them with the same GUID", async () => {
    const server = await standIn();
    const hook = await receiver(() => 202);
    server.setHook({ url: hook.url, secret: SECRET });
    const before = await server.deliver("workflow_job", queued(10), { drop: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const since = new Date();
    const ok = await server.deliver("workflow_job", queued(11));
    const dropped = await server.deliver("workflow_job", queued(12), { drop: true });
    const ping = await server.deliver("ping", { zen: "Keep it logically awesome." }, { drop: true });
    const github = client(server);

    const failed = await github.listFailedWebhookDeliveries(since);
    expect(failed.map((d) => [d.guid, d.event, d.action, d.statusCode])).toEqual([
      [ping.guid, "ping", null, 0],
      [dropped.guid, "workflow_job", "queued", 0],
    ]);
    expect(failed.map((d) => d.guid)).not.toContain(before.guid);
    expect(failed.map((d) => d.guid)).not.toContain(ok.guid);
    // App hook deliveries are read with the App's JWT: no installation lookup, no token.
    expect(server.calls("apps/get-org-installation")).toBe(0);
    expect(server.calls("apps/list-webhook-deliveries")).toBe(1);

    await github.redeliverWebhook(dropped.id);
    expect(hook.received.map((r) => r.guid)).toEqual([ok.guid, dropped.guid]);
    // The successful redelivery shares the GUID: that delivery no longer counts as failed.
    expect((await github.listFailedWebhookDeliveries(since)).map((d) => d.guid)).toEqual([ping.guid]);
  });

  it("pages back through cursor-paginated deliveries only as far as `since`", async () => {
    const server = await standIn();
    const hook = await receiver(() => 500);
    server.setHook({ url: hook.url, secret: SECRET });
    for (let i = 0; i < 150; i++) await server.deliver("workflow_job", queued(100 + i), { drop: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const since = new Date();
    for (let i = 0; i < 120; i++) await server.deliver("workflow_job", queued(300 + i));
    const github = client(server);
    const failed = await github.listFailedWebhookDeliveries(since);
    expect(failed).toHaveLength(120);
    expect(failed.every((d) => d.statusCode === 500 && d.deliveredAt >= since)).toBe(true);
    // 270 deliveries, 100 a page: page 2 reaches past `since`, page 3 is never read.
    expect(server.calls("apps/list-webhook-deliveries")).toBe(2);
  });

  it("uses the org hook's deliveries with a PAT and a hook id", async () => {
    const server = await standIn({ hookId: 55 });
    const hook = await receiver(() => 200);
    server.setHook({ url: hook.url, secret: SECRET });
    const since = new Date(Date.now() - 1000);
    const dropped = await server.deliver("workflow_job", queued(20), { drop: true });
    const github = client(server, { auth: { kind: "token", token: PAT }, hookId: 55 });
    expect((await github.listFailedWebhookDeliveries(since)).map((d) => d.id)).toEqual([dropped.id]);
    await github.redeliverWebhook(dropped.id);
    expect(hook.received.map((r) => r.guid)).toEqual([dropped.guid]);
    expect(server.callLog.map((c) => c.operationId)).toEqual([
      "orgs/list-webhook-deliveries",
      "orgs/redeliver-webhook-delivery",
    ]);
  });

  it("uses the repo hook's deliveries for a repo target", async () => {
    const target = { kind: "repo", owner: "octo", repo: "app" } as const;
    const server = await standIn({ hookId: 9, target });
    const since = new Date(Date.now() - 1000);
    const dropped = await server.deliver("workflow_job", queued(21), {
      to: "http://127.0.0.1:9/",
      secret: SECRET,
      drop: true,
    });
    const github = client(server, { auth: { kind: "token", token: PAT }, hookId: 9, target });
    expect((await github.listFailedWebhookDeliveries(since)).map((d) => d.id)).toEqual([dropped.id]);
    expect(server.callLog.map((c) => c.path)).toEqual(["/repos/octo/app/hooks/9/deliveries"]);
  });

  it("asks for the hook id when a PAT has none", async () => {
    const server = await standIn();
    const github = client(server, { auth: { kind: "token", token: PAT } });
    await expect(github.listFailedWebhookDeliveries(new Date())).rejects.toThrow(/github\.hookId/);
  });
});

describe("the delivery log (the poll's input)", () => {
  it("records a delivery whose POST failed or could not connect, with what was sent and what came back", async () => {
    const server = await standIn();
    const hook = await receiver(() => 503);
    server.setHook({ url: hook.url, secret: SECRET });
    const refused = await server.deliver("workflow_job", queued(30));
    // Nothing listens on port 9 of the loopback: "failed to connect", status 0, no response.
    server.setHook({ url: "http://127.0.0.1:9/webhook", secret: SECRET });
    const unreachable = await server.deliver("workflow_job", queued(31));
    const github = client(server);
    const log = await github.listWebhookDeliveriesAfter(undefined, new Date(Date.now() - 60_000));
    expect(log.map((d) => [d.id, d.statusCode, d.action, d.installationId])).toEqual([
      [unreachable.id, 0, "queued", 4242],
      [refused.id, 503, "queued", 4242],
    ]);
    const record = await github.getWebhookDelivery(unreachable.id);
    expect(record).toMatchObject({ id: unreachable.id, guid: unreachable.guid, event: "workflow_job" });
    expect(record.payload).toEqual(queued(31));
    expect(server.calls("apps/get-webhook-delivery")).toBe(1);
    // The whole documented shape (checked against the description): the headers sent, signed, and the answer.
    const open = await standIn({ appPublicKeyPem: undefined, token: undefined });
    open.setHook({ url: hook.url, secret: SECRET });
    const sent = await open.deliver("workflow_job", queued(32));
    const answered = await fetch(`${open.url}/app/hook/deliveries/${sent.id}`);
    const body = (await answered.json()) as {
      status: string;
      request: { headers: Record<string, string> };
      response: { payload: string | null };
    };
    expect(body.status).toBe("Invalid HTTP Response");
    expect(body.request.headers["x-github-event"]).toBe("workflow_job");
    expect(body.request.headers["x-hub-signature-256"]).toMatch(/^sha256=/);
    expect(body.response.payload).toBe("ok");
  });

  it("reads back only past the last delivery it took, through the cursor pages", async () => {
    const server = await standIn();
    server.setHook({ url: "http://127.0.0.1:9/webhook", secret: SECRET });
    const first = [];
    for (let i = 0; i < 130; i++) first.push(await server.deliver("workflow_job", queued(400 + i)));
    const github = client(server);
    const since = new Date(Date.now() - 60_000);
    const all = await github.listWebhookDeliveriesAfter(undefined, since);
    expect(all.map((d) => d.id)).toEqual(first.map((d) => d.id).reverse());
    expect(server.calls("apps/list-webhook-deliveries")).toBe(2);
    const later = [];
    for (let i = 0; i < 5; i++) later.push(await server.deliver("workflow_job", queued(600 + i)));
    const newer = await github.listWebhookDeliveriesAfter(first.at(-1)!.id, since);
    expect(newer.map((d) => d.id)).toEqual(later.map((d) => d.id).reverse());
    // One page held them all, and the entry it stopped at.
    expect(server.calls("apps/list-webhook-deliveries")).toBe(3);
  });

  it("reads the org hook's and the repo hook's log and payloads with a PAT and a hook id", async () => {
    const org = await standIn({ hookId: 55 });
    const repoTarget = { kind: "repo", owner: "octo", repo: "app" } as const;
    const repo = await standIn({ hookId: 9, target: repoTarget });
    for (const [server, extra] of [
      [org, { hookId: 55 }],
      [repo, { hookId: 9, target: repoTarget }],
    ] as const) {
      const sent = await server.deliver("workflow_job", queued(700), {
        to: "http://127.0.0.1:9/",
        secret: SECRET,
      });
      const github = client(server, { auth: { kind: "token", token: PAT }, ...extra });
      const log = await github.listWebhookDeliveriesAfter(undefined, new Date(Date.now() - 60_000));
      expect(log.map((d) => [d.id, d.installationId])).toEqual([[sent.id, null]]);
      expect((await github.getWebhookDelivery(sent.id)).payload).toEqual(queued(700));
    }
    expect(org.callLog.map((c) => c.operationId)).toEqual([
      "orgs/list-webhook-deliveries",
      "orgs/get-webhook-delivery",
    ]);
    expect(repo.callLog.map((c) => c.path)).toEqual([
      "/repos/octo/app/hooks/9/deliveries",
      `/repos/octo/app/hooks/9/deliveries/${repo.deliveries()[0]!.id}`,
    ]);
  });
});

describe("queued-job audit", () => {
  it("finds queued jobs of our labels across the installation's repositories", async () => {
    const server = await standIn();
    const a = server.addQueuedJob({ repo: "acme/api", labels: ["self-hosted", "dind-k8s"] });
    const b = server.addQueuedJob({ repo: "acme/web", labels: ["DIND-K8S"] });
    const other = server.addQueuedJob({ repo: "acme/web", labels: ["ubuntu-latest"] });
    const started = server.addQueuedJob({ repo: "acme/web", labels: ["dind-k8s"] });
    const github = client(server);
    const config = await github.generateJitConfig({
      name: "r1",
      runnerGroupId: 1,
      labels: ["dind-k8s"],
      workFolder: "_work",
    });
    server.startJob(started.id, config.runnerName);
    server.addRepo("acme/quiet");
    server.addRepo("elsewhere/foreign");

    const jobs = await github.listQueuedJobs(["dind-k8s", "large"]);
    expect(jobs.map((job) => job.id).sort()).toEqual([a.id, b.id].sort());
    expect(jobs.find((job) => job.id === a.id)).toEqual({
      id: a.id,
      runId: a.runId,
      runAttempt: 1,
      labels: ["self-hosted", "dind-k8s"],
      repo: "acme/api",
      createdAt: a.createdAt,
    });
    expect(jobs.map((job) => job.id)).not.toContain(other.id);
    // Bounded cost: 1 repository page + 1 run list per repository (3 of ours) + 1 job list per active run (4).
    expect(server.calls("apps/list-repos-accessible-to-installation")).toBe(1);
    expect(server.calls("actions/list-workflow-runs-for-repo")).toBe(3);
    expect(server.calls("actions/list-jobs-for-workflow-run")).toBe(4);
  });

  it("pages through a busy repository's runs by status", async () => {
    const server = await standIn();
    const jobs = Array.from({ length: 130 }, () =>
      server.addQueuedJob({ repo: "acme/busy", labels: ["dind-k8s"] }),
    );
    const runner = server.addRunner({ name: "r", labels: ["dind-k8s"] });
    server.startJob(jobs[0]!.id, runner.name);
    for (const job of jobs.slice(1, 20)) server.completeJob(job.id);
    const github = client(server);
    const found = await github.listQueuedJobs(["dind-k8s"]);
    expect(found.map((job) => job.id).sort()).toEqual(
      jobs
        .slice(20)
        .map((job) => job.id)
        .sort(),
    );
    // 1 unfiltered page (full) → queued runs (2 pages) + in_progress runs (1 page).
    expect(server.calls("actions/list-workflow-runs-for-repo")).toBe(4);
    expect(server.calls("actions/list-jobs-for-workflow-run")).toBe(111);
  });

  it("lists the org's repositories with a PAT", async () => {
    const server = await standIn();
    const job = server.addQueuedJob({ repo: "acme/api", labels: ["dind-k8s"] });
    const github = client(server, { auth: { kind: "token", token: PAT } });
    expect((await github.listQueuedJobs(["dind-k8s"])).map((j) => j.id)).toEqual([job.id]);
    expect(server.calls("repos/list-for-org")).toBe(1);
  });

  it("reads one job's status, conclusion and runner", async () => {
    const server = await standIn();
    const job = server.addQueuedJob({ repo: "acme/api", labels: ["dind-k8s"] });
    const github = client(server);
    expect(await github.getWorkflowJob("acme/api", job.id)).toEqual({
      id: job.id,
      status: "queued",
      conclusion: null,
      runnerName: null,
      labels: ["dind-k8s"],
    });
    const runner = server.addRunner({ name: "dind-k8s-abc", labels: ["dind-k8s"] });
    server.startJob(job.id, runner.name);
    server.completeJob(job.id, "success");
    expect(await github.getWorkflowJob("acme/api", job.id)).toMatchObject({
      status: "completed",
      conclusion: "success",
      runnerName: "dind-k8s-abc",
    });
    // GitHub deregisters an ephemeral runner after its job.
    expect(server.runners()).toEqual([]);
  });
});
