// github.intake poll and both, end to end on the real apiserver (as the shipped Role), the real scheduler, kwok
// and the GitHub stand-in (checked against GitHub's OpenAPI description): jobs taken from the hook's delivery log
// with GitHub unable to reach the scaler, webhooks and the poll together, and the cursor across a restart and a
// leader change.
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterEach, describe, expect, inject, it } from "vitest";
import { type Config, parseConfig } from "../../src/scaler/config/load.ts";
import type { GitHubApi } from "../../src/scaler/github/client.ts";
import { ANNOTATIONS, LABELS } from "../../src/scaler/model/keys.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { eventually } from "../helpers/eventually.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { endRunner, podInPhase } from "../helpers/kwok.ts";
import {
  realNodesRunnerSetYaml,
  runnerSetYaml,
  standInTokenClient,
  startTestScaler,
  testConfigYaml,
  WEBHOOK_SECRET,
} from "../helpers/scaler.ts";
import { workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");
const ORG = "octo-org";
const TOKEN = "ghp_poll";
/** Nothing listens on port 9 of the loopback: GitHub can't reach the scaler ("failed to connect"). */
const UNREACHABLE = "http://127.0.0.1:9/webhook";
const GET_DELIVERY = "orgs/get-webhook-delivery";

const FAST = { resyncMs: 150, debounceMs: 10, idleGraceMs: 400, orphanSweepMs: 300, backoffMs: 200 };
const ELECTION = { leaseDurationMs: 2_000, retryPeriodMs: 150, renewDeadlineMs: 1_500 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface World {
  ns: TestNamespace;
  core: CoreV1Api;
  github: GitHubStandIn;
  client: GitHubApi;
  config: Config;
  start(options?: { identity?: string }): Promise<RunningScaler>;
  /** A workflow_job event GitHub records in the hook's delivery log (sent to the hook's URL, which may fail). */
  send(
    action: "queued" | "in_progress" | "completed",
    jobId: number,
    extra?: { runnerName?: string; repository?: string; drop?: boolean },
  ): Promise<number>;
  jobPods(): Promise<V1Pod[]>;
}

async function world(intake: "poll" | "both", { maxRunners = 3 } = {}): Promise<World> {
  const ns = await createTestNamespace(env, `poll-${intake}`, { podSecurity: "privileged" });
  const github = await startGitHubStandIn({ target: { kind: "org", org: ORG }, token: TOKEN });
  cleanups.push(async () => {
    expect(github.violations).toEqual([]);
    await github.close();
  });
  github.setHook({ url: UNREACHABLE, secret: WEBHOOK_SECRET });
  const client = standInTokenClient(github, { org: ORG, token: TOKEN, hookId: 1 });
  // maxRunners 0: Pods stay gated (no release, no JIT call), room for every job in the backlog.
  const sets =
    maxRunners === 0 ? runnerSetYaml("dind-k8s", 0, 100) : realNodesRunnerSetYaml("dind-k8s", maxRunners);
  let text = testConfigYaml(ns.name, sets).replace(
    `  org: ${ORG}`,
    `  org: ${ORG}\n  intake: ${intake}\n  pollInterval: 1`,
  );
  // Poll alone needs no webhook secret: it reads the log through the API, and takes no webhooks.
  if (intake === "poll") text = text.replace(/^ {2}webhookSecretFile: .*\n/m, "");
  const config = parseConfig(text, "poll.yaml");
  const core = ns.kc.makeApiClient(CoreV1Api);
  return {
    ns,
    core,
    github,
    client,
    config,
    async start({ identity } = {}) {
      const scaler = await startTestScaler(env, {
        namespace: ns.name,
        config,
        github: client,
        timing: FAST,
        ...(intake === "poll" ? { secrets: [] } : {}),
        ...(identity ? { reconcile: { leaderElection: { identity, ...ELECTION } } } : {}),
      });
      let stopped = false;
      const stop = scaler.stop.bind(scaler);
      scaler.stop = async () => {
        if (stopped) return;
        stopped = true;
        await stop();
      };
      cleanups.push(() => scaler.stop());
      return scaler;
    },
    async send(action, jobId, extra = {}) {
      const payload = workflowJobPayload({
        action,
        jobId,
        runnerName: extra.runnerName ?? null,
        ...(extra.repository ? { repository: extra.repository } : {}),
      });
      return (await github.deliver("workflow_job", payload, extra.drop ? { drop: true } : {})).statusCode;
    },
    async jobPods() {
      const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: `${LABELS.kind}=job` });
      return pods.items;
    },
  };
}

const jobIds = (pods: V1Pod[]) => pods.map((pod) => Number(pod.metadata?.labels?.[LABELS.jobId])).sort();
const gated = (pod: V1Pod) => (pod.spec?.schedulingGates ?? []).length > 0;
/** How many times the poll fetched each delivery's body, by delivery id. */
function fetchesPerDelivery(github: GitHubStandIn): Map<string, number> {
  const counts = new Map<string, number>();
  for (const call of github.callLog.filter((c) => c.operationId === GET_DELIVERY)) {
    const id = call.path.split("/").at(-1)!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe("intake poll: no inbound traffic", () => {
  it("a job flows queued → gated Pod → released → Running → done → cleaned up, with GitHub unable to reach the scaler", async () => {
    const w = await world("poll");
    const scaler = await w.start();
    expect(w.config.github.webhookSecretFile).toBeUndefined();
    // No secret, no webhooks: a POST is refused before its body is read, whatever it carries.
    const posted = await fetch(`${scaler.url}/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "workflow_job" },
      body: "{}",
    });
    expect(posted.status).toBe(404);
    expect(await posted.text()).toContain("this scaler takes no webhooks: github.intake is poll");
    // GitHub records the delivery as failed: it could not connect.
    expect(await w.send("queued", 201)).toBe(0);
    // Another organization's job, in the same log: the owner check drops it, as intake does for a webhook.
    expect(await w.send("queued", 299, { repository: "elsewhere/app" })).toBe(0);

    const released = await eventually("the polled job's Pod to be released", async () => {
      const pods = await w.jobPods();
      return pods.length === 1 && !gated(pods[0]!) ? pods[0] : undefined;
    });
    expect(released.metadata?.name).toBe("dind-k8s-201-1");
    expect(released.metadata?.annotations?.[ANNOTATIONS.runnerId]).toBeDefined();
    await podInPhase(w.ns.kc, w.ns.name, "dind-k8s-201-1", "Running");
    expect(await w.send("in_progress", 201, { runnerName: "dind-k8s-201-1" })).toBe(0);
    await eventually("the job to be marked started", async () => {
      const pod = await w.core.readNamespacedPod({ name: "dind-k8s-201-1", namespace: w.ns.name });
      return pod.metadata?.labels?.[LABELS.jobState] === "started";
    });
    expect(await w.send("completed", 201, { runnerName: "dind-k8s-201-1" })).toBe(0);
    await endRunner(w.ns.kc, w.ns.name, "dind-k8s-201-1");
    await eventually(
      "the Pod and its Secret to be gone",
      async () => {
        const [pods, secrets] = await Promise.all([
          w.core.listNamespacedPod({ namespace: w.ns.name }),
          w.core.listNamespacedSecret({ namespace: w.ns.name }),
        ]);
        const left = pods.items.filter(
          (pod) => pod.metadata?.labels?.[LABELS.jobState] !== "done" || !gated(pod),
        );
        return left.length === 0 && secrets.items.length === 0;
      },
      { timeoutMs: 30_000 },
    );
    expect(jobIds(await w.jobPods())).toEqual([]);
    // Every delivery failed, and the poll read each body it needed once; the foreign one too (the list doesn't
    // say whose it is for an org hook), and nothing else was fetched.
    expect(w.github.deliveries().every((delivery) => delivery.statusCode === 0)).toBe(true);
    await eventually(
      "the completed delivery to be polled",
      async () => fetchesPerDelivery(w.github).size === 4,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect([...fetchesPerDelivery(w.github).values()]).toEqual([1, 1, 1, 1]);
    expect(w.github.calls("orgs/redeliver-webhook-delivery")).toBe(0);
  });
});

describe("intake both: webhooks and the poll", () => {
  it("every job gets exactly one Pod, whether the webhook, the poll or both took it", async () => {
    const w = await world("both", { maxRunners: 0 });
    const scaler = await w.start();
    w.github.setHook({ url: `${scaler.url}/webhook`, secret: WEBHOOK_SECRET });
    const delivered = [301, 302, 303, 304, 305];
    const dropped = [306, 307, 308];
    for (const id of delivered) expect(await w.send("queued", id)).toBe(201);
    for (const id of dropped) expect(await w.send("queued", id, { drop: true })).toBe(0);
    // Both ways for one job: a failed attempt in the log and a delivery the webhook took.
    expect(await w.send("queued", 309, { drop: true })).toBe(0);
    expect(await w.send("queued", 309)).toBe(201);
    await eventually("a Pod for every job", async () => (await w.jobPods()).length >= 9);
    // Two more polls: nothing changes.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(jobIds(await w.jobPods())).toEqual([...delivered, ...dropped, 309]);
    // The poll fetched only the failed attempts: 4 bodies, never one the webhook took.
    expect(w.github.calls(GET_DELIVERY)).toBe(4);
  });
});

describe("the poll's cursor on the Lease", () => {
  it("a restarted scaler reads on from the cursor: nothing missed, nothing fetched twice", async () => {
    const w = await world("poll", { maxRunners: 0 });
    const first = await w.start({ identity: "first" });
    for (const id of [401, 402, 403]) await w.send("queued", id);
    await eventually("the first three Pods", async () => (await w.jobPods()).length === 3);
    await first.stop();
    // While no scaler runs.
    for (const id of [404, 405]) await w.send("queued", id);
    await w.start({ identity: "second" });
    for (const id of [406]) await w.send("queued", id);
    await eventually("every Pod", async () => (await w.jobPods()).length === 6, { timeoutMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(jobIds(await w.jobPods())).toEqual([401, 402, 403, 404, 405, 406]);
    const fetches = fetchesPerDelivery(w.github);
    expect(fetches.size).toBe(6);
    expect([...fetches.values()].every((count) => count === 1)).toBe(true);
  });

  it("a leader change mid-poll: the new leader reads on where the old one stopped, nothing missed or fetched twice", async () => {
    const w = await world("poll", { maxRunners: 0 });
    const a = await w.start({ identity: "a" });
    await eventually("a to lead", async () => a.elector?.leading);
    const b = await w.start({ identity: "b" });
    // Slow GitHub: one poll of 24 bodies takes about a second.
    w.github.setLatency(150);
    const ids = Array.from({ length: 24 }, (_, i) => 500 + i);
    for (const id of ids) await w.send("queued", id);
    await eventually("a to be mid-poll", async () => w.github.calls(GET_DELIVERY) >= 4, { intervalMs: 10 });
    const fetchedByA = w.github.calls(GET_DELIVERY);
    await a.stop();
    expect(fetchedByA).toBeLessThan(ids.length);
    await eventually("b to lead", async () => b.elector?.leading, { timeoutMs: 10_000 });
    await eventually("every Pod", async () => (await w.jobPods()).length === ids.length, {
      timeoutMs: 20_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(jobIds(await w.jobPods())).toEqual(ids);
    const fetches = fetchesPerDelivery(w.github);
    expect(fetches.size).toBe(ids.length);
    expect([...fetches.values()].every((count) => count === 1)).toBe(true);
  });
});
