// The scaler end to end on the real apiserver (as the shipped Role) with the GitHub stand-in (checked
// against GitHub's OpenAPI description), its Pods on the real scheduler, kwok's Nodes and the real garbage
// collector. The test plays the runner (it says when one's job is over) and GitHub's events.
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterEach, describe, expect, inject, it } from "vitest";
import { ANNOTATIONS, LABELS } from "../../src/scaler/model/keys.ts";
import { nextActivations } from "../../src/scaler/model/schedule.ts";
import type { ReconcilerTiming } from "../../src/scaler/reconcile/reconciler.ts";
import type { RecoveryTiming } from "../../src/scaler/reconcile/recovery.ts";
import { JIT_CONFIG_KEY } from "../../src/scaler/runner-pod/build-runner-pod.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { NODE_NAMES } from "../env/kwok.ts";
import { eventually } from "../helpers/eventually.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { apiStatus, createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { endRunner, podInPhase } from "../helpers/kwok.ts";
import {
  realNodesRunnerSetYaml,
  standInTokenClient,
  startTestScaler,
  WEBHOOK_SECRET,
} from "../helpers/scaler.ts";
import { workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");
const ORG = "octo-org";
const TOKEN = "ghp_standin_token";

const FAST: Partial<ReconcilerTiming> = {
  resyncMs: 150,
  debounceMs: 10,
  idleGraceMs: 400,
  orphanSweepMs: 300,
  pendingDeadlineMs: 60_000,
  backoffMs: 200,
};

interface World {
  ns: TestNamespace;
  core: CoreV1Api;
  github: GitHubStandIn;
  scaler: RunningScaler;
  /** Deliver a workflow_job event through the stand-in (recorded like GitHub records deliveries). */
  send(
    action: "queued" | "in_progress" | "completed",
    jobId: number,
    extra?: { runnerName?: string; conclusion?: string; drop?: boolean; repository?: string },
  ): Promise<number>;
  pods(): Promise<V1Pod[]>;
  /** Waits until the real scheduler has bound the Pod and kwok runs it. */
  run(name: string): Promise<void>;
  /** The runner exits (kwok's runner-exits Stage): 0 for Succeeded, 1 for Failed. */
  finish(name: string, phase?: "Succeeded" | "Failed"): Promise<void>;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.scaler.stop();
    expect(world.github.violations).toEqual([]);
    await world.github.close();
  }
});

async function world(
  options: {
    runnerSets?: string;
    timing?: Partial<ReconcilerTiming>;
    recovery?: Partial<RecoveryTiming>;
  } = {},
): Promise<World> {
  const ns = await createTestNamespace(env, "lifecycle", { podSecurity: "privileged" });
  const github = await startGitHubStandIn({ target: { kind: "org", org: ORG }, token: TOKEN });
  const client = standInTokenClient(github, { org: ORG, token: TOKEN, hookId: 1 });
  const scaler = await startTestScaler(env, {
    namespace: ns.name,
    github: client,
    timing: { ...FAST, ...options.timing },
    ...(options.recovery ? { recovery: options.recovery } : {}),
    // Pods of the set go to kwok's Nodes: the real scheduler, kwok and the garbage collector play their parts.
    runnerSets: options.runnerSets ?? realNodesRunnerSetYaml("dind-k8s", 3),
  });
  github.setHook({ url: `${scaler.url}/webhook`, secret: WEBHOOK_SECRET });
  const core = ns.kc.makeApiClient(CoreV1Api);
  const created: World = {
    ns,
    core,
    github,
    scaler,
    async send(action, jobId, extra = {}) {
      const payload = workflowJobPayload({
        action,
        jobId,
        labels: ["self-hosted", "dind-k8s"],
        runnerName: extra.runnerName ?? null,
        ...(extra.conclusion ? { conclusion: extra.conclusion } : {}),
        ...(extra.repository ? { repository: extra.repository } : {}),
      });
      const result = await github.deliver("workflow_job", payload, extra.drop ? { drop: true } : {});
      return result.statusCode;
    },
    async pods() {
      return (await core.listNamespacedPod({ namespace: ns.name })).items;
    },
    async run(name) {
      await podInPhase(ns.kc, ns.name, name, "Running");
    },
    async finish(name, phase = "Succeeded") {
      await endRunner(ns.kc, ns.name, name, phase === "Succeeded" ? 0 : 1);
    },
  };
  worlds.push(created);
  return created;
}

const gated = (pod: V1Pod) => (pod.spec?.schedulingGates ?? []).length > 0;
const names = (pods: V1Pod[]) => pods.map((pod) => pod.metadata!.name!).sort();

describe("a job's life on the real scheduler, kwok and garbage collector", () => {
  const onRealNodes = (maxRunners: number) => ({
    runnerSets: realNodesRunnerSetYaml("dind-k8s", maxRunners),
  });
  const podsAndSecretsGone = (w: World) => async () => {
    const [pods, secrets] = await Promise.all([
      w.pods(),
      w.core.listNamespacedSecret({ namespace: w.ns.name }),
    ]);
    // A finished job leaves its gated tombstone (the durable record), nothing else.
    const left = pods.filter((pod) => pod.metadata?.labels?.[LABELS.jobState] !== "done" || !gated(pod));
    return left.length === 0 && secrets.items.length === 0;
  };

  it("queued → released with a JIT Secret → bound and Running → runner exits → Pod, Secret and runner gone", async () => {
    const w = await world(onRealNodes(2));
    expect(await w.send("queued", 101)).toBe(201);

    const released = await eventually("the gate to be released", async () => {
      const pod = await w.core.readNamespacedPod({ name: "dind-k8s-101-1", namespace: w.ns.name });
      return gated(pod) ? undefined : pod;
    });
    const runnerId = Number(released.metadata?.annotations?.[ANNOTATIONS.runnerId]);
    const secret = await w.core.readNamespacedSecret({ name: "dind-k8s-101-1", namespace: w.ns.name });
    expect(secret.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "Pod", uid: released.metadata?.uid });
    const registered = w.github.runners().find((runner) => runner.id === runnerId);
    expect(registered).toMatchObject({ name: "dind-k8s-101-1", labels: ["dind-k8s"], workFolder: "_work" });
    expect(Buffer.from(secret.data![JIT_CONFIG_KEY]!, "base64").toString()).not.toBe("");

    // The real scheduler binds it to a kwok Node; kwok starts the dind sidecar and the runner.
    const running = await podInPhase(w.ns.kc, w.ns.name, "dind-k8s-101-1", "Running");
    expect(NODE_NAMES).toContain(running.spec?.nodeName);
    const job = w.github.addQueuedJob({ labels: ["self-hosted", "dind-k8s"] });
    w.github.startJob(job.id, "dind-k8s-101-1");
    expect(await w.send("in_progress", 101, { runnerName: "dind-k8s-101-1" })).toBe(200);
    w.github.completeJob(job.id);
    expect(await w.send("completed", 101, { runnerName: "dind-k8s-101-1" })).toBe(200);
    // The ephemeral runner exits after its job; the scaler deletes the Pod, kwok removes it, the GC its Secret.
    await endRunner(w.ns.kc, w.ns.name, "dind-k8s-101-1");

    await eventually("the Pod and its Secret to be gone", podsAndSecretsGone(w), { timeoutMs: 30_000 });
    expect(w.github.runners()).toEqual([]);
    expect(w.github.calls("actions/generate-runner-jitconfig-for-org")).toBe(1);
    expect(w.github.calls("actions/delete-self-hosted-runner-from-org")).toBe(0);
  });

  it("gated Pods are never bound; released ones are bound in release order, one at a time under maxRunners 1", async () => {
    const w = await world(onRealNodes(1));
    for (const id of [111, 112, 113]) expect(await w.send("queued", id)).toBe(201);
    const order: string[] = [];
    for (const name of ["dind-k8s-111-1", "dind-k8s-112-1", "dind-k8s-113-1"]) {
      await podInPhase(w.ns.kc, w.ns.name, name, "Running");
      order.push(name);
      // Everything still gated is unbound, however long the scheduler has had it.
      const pods = await w.pods();
      expect(pods.filter((pod) => gated(pod)).map((pod) => pod.spec?.nodeName)).toEqual(
        pods.filter((pod) => gated(pod)).map(() => undefined),
      );
      expect(names(pods.filter((pod) => pod.spec?.nodeName))).toEqual([name]);
      await endRunner(w.ns.kc, w.ns.name, name);
      await gone(w, name);
    }
    expect(order).toEqual(["dind-k8s-111-1", "dind-k8s-112-1", "dind-k8s-113-1"]);
  });

  it("a running runner's Pod deleted by a person: kwok removes it, the real GC its JIT Secret", async () => {
    const w = await world(onRealNodes(2));
    expect(await w.send("queued", 121)).toBe(201);
    await podInPhase(w.ns.kc, w.ns.name, "dind-k8s-121-1", "Running");
    await w.core.readNamespacedSecret({ name: "dind-k8s-121-1", namespace: w.ns.name });
    await w.core.deleteNamespacedPod({ name: "dind-k8s-121-1", namespace: w.ns.name });
    await eventually(
      "the JIT Secret's collection",
      () =>
        w.core.readNamespacedSecret({ name: "dind-k8s-121-1", namespace: w.ns.name }).then(
          () => false,
          (error: unknown) => apiStatus(error) === 404,
        ),
      { timeoutMs: 30_000 },
    );
  });
});

/** Waits until the Pod named `name` is gone from the namespace (deleted for real, not just terminating). */
async function gone(w: World, name: string): Promise<void> {
  await eventually(`${name} to be gone`, async () => !names(await w.pods()).includes(name), {
    timeoutMs: 30_000,
  });
}

describe("delivery order and duplicates", () => {
  it("a duplicate queued delivery yields one Pod and one runner", async () => {
    const w = await world();
    expect(await w.send("queued", 201)).toBe(201);
    expect(await w.send("queued", 201)).toBe(200);
    await eventually("release", async () => (await w.pods()).every((pod) => !gated(pod)) && true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(names(await w.pods())).toEqual(["dind-k8s-201-1"]);
    expect(w.github.runners()).toHaveLength(1);
  });

  it("completed before queued leaves no runner: the late queued hits the tombstone", async () => {
    const w = await world();
    expect(await w.send("completed", 301, { conclusion: "cancelled" })).toBe(200);
    expect(await w.send("queued", 301)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pods = await w.pods();
    expect(names(pods)).toEqual(["dind-k8s-301-1"]);
    expect(gated(pods[0]!)).toBe(true);
    expect(pods[0]!.metadata?.labels?.[LABELS.jobState]).toBe("done");
    expect(w.github.runners()).toEqual([]);
    expect(w.github.calls("actions/generate-runner-jitconfig-for-org")).toBe(0);
  });

  it("a late in_progress doesn't bring a tombstone back: the job stays done and gets no runner", async () => {
    const w = await world();
    expect(await w.send("completed", 351, { conclusion: "success", runnerName: "someone-else" })).toBe(200);
    expect(await w.send("in_progress", 351, { runnerName: "someone-else" })).toBe(200);
    expect(await w.send("queued", 351)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pods = await w.pods();
    expect(names(pods)).toEqual(["dind-k8s-351-1"]);
    expect(pods[0]!.metadata?.labels?.[LABELS.jobState]).toBe("done");
    expect(gated(pods[0]!)).toBe(true);
    expect(w.github.calls("actions/generate-runner-jitconfig-for-org")).toBe(0);
  });

  it("a job cancelled while queued is never released", async () => {
    const w = await world({
      runnerSets: realNodesRunnerSetYaml("dind-k8s", 1, 0),
    });
    // Fill the one slot so job 402 waits gated.
    await w.send("queued", 401);
    await eventually("401 released", async () => (await w.pods()).some((pod) => !gated(pod)));
    await w.send("queued", 402);
    await w.send("completed", 402, { conclusion: "cancelled" });
    // 401's runner finishes its job: the slot frees up, but 402 must stay unreleased.
    await w.run("dind-k8s-401-1");
    await w.send("in_progress", 401, { runnerName: "dind-k8s-401-1" });
    await w.finish("dind-k8s-401-1");
    await eventually("401 gone", async () => {
      return !(await w.pods()).some((pod) => pod.metadata?.name === "dind-k8s-401-1");
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const pods = await w.pods();
    expect(names(pods)).toEqual(["dind-k8s-402-1"]);
    expect(gated(pods[0]!)).toBe(true);
    expect(w.github.calls("actions/generate-runner-jitconfig-for-org")).toBe(1);
  });

  it("a job cancelled after its runner was released: one idle runner is deregistered", async () => {
    const w = await world();
    await w.send("queued", 501);
    await eventually("501 released", async () => (await w.pods()).some((pod) => !gated(pod)));
    await w.run("dind-k8s-501-1");
    await w.send("completed", 501, { conclusion: "cancelled" });
    await eventually("the idle runner removed", async () => {
      return w.github.runners().length === 0 && (await w.pods()).every((pod) => gated(pod));
    });
    expect(w.github.calls("actions/delete-self-hosted-runner-from-org")).toBe(1);
  });

  it("a busy runner is kept when GitHub answers 422 to the deregistration", async () => {
    const w = await world();
    await w.send("queued", 601);
    await eventually("601 released", async () => (await w.pods()).some((pod) => !gated(pod)));
    await w.run("dind-k8s-601-1");
    // GitHub gave job 601 to another runner; ours took some other job whose in_progress we never saw.
    w.github.setRunnerBusy("dind-k8s-601-1", true);
    await w.send("completed", 601, { conclusion: "cancelled" });
    await eventually(
      "the 422 to be seen",
      async () => w.github.calls("actions/delete-self-hosted-runner-from-org") >= 1,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(w.github.runners()).toHaveLength(1);
    expect((await w.pods()).some((pod) => pod.metadata?.name === "dind-k8s-601-1" && !gated(pod))).toBe(true);
    expect(w.github.calls("actions/delete-self-hosted-runner-from-org")).toBe(1);
  });
});

describe("capacity", () => {
  it("holds a backlog beyond maxRunners and releases it in arrival order as runners finish", async () => {
    const w = await world({
      runnerSets: realNodesRunnerSetYaml("dind-k8s", 2, 0),
    });
    for (const id of [701, 702, 703, 704]) expect(await w.send("queued", id)).toBe(201);
    const releasedNames = async () => names((await w.pods()).filter((pod) => !gated(pod)));
    await eventually("two released", async () => (await releasedNames()).length === 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await releasedNames()).toEqual(["dind-k8s-701-1", "dind-k8s-702-1"]);

    for (const name of ["dind-k8s-701-1", "dind-k8s-702-1"]) {
      await w.run(name);
      await w.send("in_progress", Number(name.split("-")[2]), { runnerName: name });
    }
    await w.finish("dind-k8s-701-1");
    await eventually("703 released after 701 finished", async () => {
      return JSON.stringify(await releasedNames()) === JSON.stringify(["dind-k8s-702-1", "dind-k8s-703-1"]);
    });
    await w.finish("dind-k8s-702-1");
    await eventually("704 released after 702 finished", async () => {
      return JSON.stringify(await releasedNames()) === JSON.stringify(["dind-k8s-703-1", "dind-k8s-704-1"]);
    });
  });

  it("keeps minIdle warm runners registered and refills the pool when one takes a job", async () => {
    const w = await world({
      runnerSets: realNodesRunnerSetYaml("dind-k8s", 4, 2),
    });
    const warm = await eventually("two warm runners", async () => {
      const pods = (await w.pods()).filter(
        (pod) => pod.metadata?.labels?.["dind-k8s.io/kind"] === "warm" && !gated(pod),
      );
      return pods.length === 2 && w.github.runners().length === 2 ? pods : undefined;
    });
    const taker = warm[0]!.metadata!.name!;
    await w.run(taker);
    // A job arrives and GitHub gives it to a warm runner.
    await w.send("queued", 801);
    await w.send("in_progress", 801, { runnerName: taker });
    await eventually("two idle runners again", async () => {
      const pods = await w.pods();
      const idle = pods.filter(
        (pod) =>
          !gated(pod) &&
          !pod.metadata?.annotations?.["dind-k8s.io/busy-with-job"] &&
          pod.status?.phase !== "Succeeded",
      );
      return idle.length === 2;
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    // One busy + two idle; nothing beyond.
    const live = (await w.pods()).filter((pod) => !gated(pod));
    expect(live).toHaveLength(3);
  });
});

describe("schedules", () => {
  it("a window's warm runners are Running when it opens (pre-warmed by the lead time) and go when it closes", async () => {
    // Windows open at :00, :20 and :40 of every minute (croner's seconds field) for 8 s, in a time zone.
    const window = { cron: "0,20,40 * * * * *", duration: "8s", timeZone: "Asia/Kolkata", minIdle: 2 };
    const w = await world({
      runnerSets: [
        realNodesRunnerSetYaml("dind-k8s", 4, 0),
        "    scheduleLeadTime: 4s",
        `    schedules: [{ cron: "${window.cron}", duration: ${window.duration}, timeZone: ${window.timeZone}, minIdle: 2 }]`,
      ].join("\n"),
    });
    const warmRunning = async () =>
      (await w.pods()).filter(
        (pod) =>
          pod.metadata?.labels?.[LABELS.kind] === "warm" &&
          !pod.metadata.deletionTimestamp &&
          pod.status?.phase === "Running",
      ).length;
    // A start at least 6 s away, so the lead time (4 s) begins after this point.
    let [opens] = nextActivations(window, new Date(Date.now() + 6_000), 1);
    expect(await warmRunning()).toBe(0);
    // Outside the window and its lead time: no warm runner (minIdle 0).
    const sleepUntil = (ms: number) =>
      new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));
    await sleepUntil(opens!.getTime() - 4_500);
    expect(await warmRunning()).toBe(0);
    await sleepUntil(opens!.getTime());
    expect(await warmRunning()).toBe(2);
    expect(w.github.runners()).toHaveLength(2);
    // After the window (8 s) and the idle grace (400 ms), the warm runners are surplus and removed.
    opens = new Date(opens!.getTime() + 8_000);
    await sleepUntil(opens.getTime() + 2_000);
    await eventually("warm runners removed after the window", async () => (await warmRunning()) === 0);
  });
});

describe("repair", () => {
  it("replaces a Pod the real scheduler finds no room for (Unschedulable) past the deadline, with a Warning Event", async () => {
    // Tolerates kwok's Nodes but asks for more CPU than any of them has.
    const tooBig = `${realNodesRunnerSetYaml("dind-k8s", 2)}\n    runner: { resources: { requests: { cpu: "100" } } }`;
    const w = await world({ timing: { pendingDeadlineMs: 800 }, runnerSets: tooBig });
    await w.send("queued", 901);
    const first = await eventually("901 released", async () => {
      const pod = (await w.pods()).find((candidate) => !gated(candidate));
      return pod;
    });
    const verdict = await eventually("the scheduler's verdict on 901", async () => {
      const pod = await w.core.readNamespacedPod({ name: "dind-k8s-901-1", namespace: w.ns.name });
      if (pod.metadata?.uid !== first.metadata?.uid) throw new Error("replaced before the verdict was read");
      return pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
    });
    expect(verdict.reason).toBe("Unschedulable");
    expect(verdict.message).toMatch(/^0\/3 nodes are available: 3 Insufficient cpu\./);
    const replacement = await eventually("a replacement Pod for the same job", async () => {
      const pod = (await w.pods()).find((candidate) => candidate.metadata?.name === "dind-k8s-901-1");
      return pod && pod.metadata?.uid !== first.metadata?.uid ? pod : undefined;
    });
    expect(replacement.metadata?.labels?.["dind-k8s.io/job-id"]).toBe("901");
    const events = await w.core.listNamespacedEvent({ namespace: w.ns.name });
    expect(
      events.items.some((event) => event.reason === "RunnerStuckPending" && event.type === "Warning"),
    ).toBe(true);
    const metrics = await (await fetch(`${w.scaler.url}/metrics`)).text();
    expect(metrics).toMatch(/dind_k8s_pods_replaced_total\{runner_set="dind-k8s",reason="Unschedulable"\} 1/);
    // The stuck runner's registration went with it.
    const stuckRunnerId = Number(first.metadata?.annotations?.[ANNOTATIONS.runnerId]);
    expect(stuckRunnerId).toBeGreaterThan(0);
    expect(w.github.runners().some((runner) => runner.id === stuckRunnerId)).toBe(false);
  });

  it("a registration left by a release that died before storing its Secret is replaced, and the job released", async () => {
    const w = await world();
    // What a scaler killed between GitHub's answer and the Secret's create leaves: the Pod's runner name taken.
    const stale = w.github.addRunner({ name: "dind-k8s-951-1", labels: ["dind-k8s"], status: "offline" });
    expect(await w.send("queued", 951)).toBe(201);
    const released = await eventually("the gate to be released", async () =>
      (await w.pods()).find((pod) => pod.metadata?.name === "dind-k8s-951-1" && !gated(pod)),
    );
    const runnerId = Number(released.metadata?.annotations?.[ANNOTATIONS.runnerId]);
    // One registration under the name, a new one: the stale one is gone, not kept beside it.
    const named = w.github.runners().filter((runner) => runner.name === "dind-k8s-951-1");
    expect(named.map((runner) => runner.id)).toEqual([runnerId]);
    expect(runnerId).not.toBe(stale.id);
  });

  it("deregisters a runner of our sets that has no Pod (left by a crash), and leaves others alone", async () => {
    const w = await world();
    const orphan = w.github.addRunner({
      name: "dind-k8s-warm-deadbeef",
      labels: ["dind-k8s"],
      status: "offline",
    });
    const foreign = w.github.addRunner({ name: "someone-elses-runner", labels: ["gpu"] });
    await eventually(
      "the orphan deregistered",
      async () => !w.github.runners().some((runner) => runner.id === orphan.id),
    );
    expect(w.github.runners().map((runner) => runner.id)).toEqual([foreign.id]);
  });
});

describe("never lose a job", () => {
  const RECOVERY: Partial<RecoveryTiming> = { redeliveryMs: 300, auditMs: 400, auditGraceMs: 300 };

  /**
   * A runner released for job A takes job B (GitHub hands queued jobs to any idle runner of their labels) and
   * exits. A's Pod was A's only record: `own` says what GitHub did with A meanwhile.
   */
  async function runnerTookAnotherJob(own: "queued" | "taken elsewhere") {
    const w = await world({ runnerSets: realNodesRunnerSetYaml("dind-k8s", 1, 0) });
    const repo = "octo-org/example-workflow";
    const [a, b] = [0, 1].map(() => w.github.addQueuedJob({ labels: ["self-hosted", "dind-k8s"], repo }));
    const deliver = (
      action: "queued" | "in_progress" | "completed",
      job: { id: number; runId: number },
      runner?: string,
    ) =>
      w.github.deliver(
        "workflow_job",
        workflowJobPayload({
          action,
          jobId: job.id,
          runId: job.runId,
          repository: repo,
          runnerName: runner ?? null,
        }),
      );
    await deliver("queued", a!);
    await deliver("queued", b!);
    const podA = `dind-k8s-${a!.id}-1`;
    const find = async () => (await w.pods()).find((pod) => pod.metadata?.name === podA);
    const first = await eventually("A's Pod released (maxRunners 1: B waits gated)", async () => {
      const pod = await find();
      return pod && !gated(pod) ? pod : undefined;
    });
    await w.run(podA);
    w.github.setRunnerStatus(podA, "online");
    w.github.startJob(b!.id, podA);
    await deliver("in_progress", b!, podA);
    if (own === "taken elsewhere") {
      // A ran on a runner of some other pool, and its in_progress never reached us.
      w.github.cancelJob(a!.id);
    }
    w.github.completeJob(b!.id);
    await deliver("completed", b!, podA);
    await w.finish(podA);
    await eventually(
      "A's finished Pod removed",
      async () => (await find())?.metadata?.uid !== first.metadata?.uid,
    );
    return { w, find, first };
  }

  it("a runner that ran another job leaves its own, still queued, job a fresh gated Pod", async () => {
    const { find, first } = await runnerTookAnotherJob("queued");
    const fresh = await eventually("a fresh Pod for A", async () => {
      const pod = await find();
      return pod && pod.metadata?.uid !== first.metadata?.uid ? pod : undefined;
    });
    expect(fresh.metadata?.labels?.[LABELS.jobState]).toBeUndefined();
    await eventually("A's fresh Pod released to a new runner", async () => {
      const pod = await find();
      return pod !== undefined && !gated(pod);
    });
  });

  it("…and none when GitHub says that job is no longer queued", async () => {
    const { w, find } = await runnerTookAnotherJob("taken elsewhere");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await find()).toBeUndefined();
    expect(w.github.calls("actions/get-job-for-workflow-run")).toBe(1);
  });

  it("a dropped queued delivery is redelivered through GitHub's API and gets its runner", async () => {
    const w = await world({ recovery: { ...RECOVERY, auditMs: 3_600_000 } });
    expect(await w.send("queued", 1101, { drop: true })).toBe(0);
    const pod = await eventually("the redelivered job's Pod", async () =>
      (await w.pods()).find((candidate) => candidate.metadata?.name === "dind-k8s-1101-1"),
    );
    // The redelivered payload made it: the job's own Pod, still gated until its release.
    expect(pod.metadata?.labels?.[LABELS.jobId]).toBe("1101");
    // The stand-in records the redelivery request once it has answered it, which can be just after the
    // redelivered webhook created the Pod.
    const redeliveries = () =>
      w.github.calls("apps/redeliver-webhook-delivery") + w.github.calls("orgs/redeliver-webhook-delivery");
    await eventually("the redelivery request to be recorded", async () => redeliveries() === 1 || undefined);
    const redelivered = w.github.deliveries().filter((delivery) => delivery.redelivery);
    expect(redelivered).toHaveLength(1);
    expect(redelivered[0]!.statusCode).toBe(201);
    // Later sweeps don't ask again.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(
      w.github.calls("apps/redeliver-webhook-delivery") + w.github.calls("orgs/redeliver-webhook-delivery"),
    ).toBe(1);
  });

  it("the audit creates the Pod of a queued job whose every delivery was lost, and settles Pods of jobs that ended", async () => {
    // No slots: the Pods stay gated, as a backlog does.
    const w = await world({
      recovery: { ...RECOVERY, redeliveryMs: 3_600_000 },
      runnerSets:
        "  - name: dind-k8s\n    labels: [dind-k8s]\n    maxRunners: 0\n    maxQueued: 5\n    minIdle: 0",
    });
    w.github.addRepo("octo-org/example-workflow");
    const lost = w.github.addQueuedJob({
      labels: ["self-hosted", "dind-k8s"],
      repo: "octo-org/example-workflow",
    });
    const pod = await eventually("the audit to create the lost job's Pod", async () =>
      (await w.pods()).find(
        (candidate) => candidate.metadata?.labels?.["dind-k8s.io/job-id"] === String(lost.id),
      ),
    );
    expect(pod.metadata?.annotations?.["dind-k8s.io/repository"]).toBe("octo-org/example-workflow");

    // A job whose Pod waits gated but which GitHub says is over (its completed delivery was lost too).
    const ended = w.github.addQueuedJob({
      labels: ["self-hosted", "dind-k8s"],
      repo: "octo-org/example-workflow",
    });
    await eventually("its Pod", async () =>
      (await w.pods()).some(
        (candidate) => candidate.metadata?.labels?.["dind-k8s.io/job-id"] === String(ended.id),
      ),
    );
    w.github.cancelJob(ended.id);
    const settled = await eventually("the audit to turn it into a tombstone", async () => {
      const found = (await w.pods()).find(
        (candidate) => candidate.metadata?.labels?.["dind-k8s.io/job-id"] === String(ended.id),
      );
      return found?.metadata?.labels?.[LABELS.jobState] === "done" ? found : undefined;
    });
    expect(gated(settled)).toBe(true);
  });
  it("the audit keeps to the set's backlog bound: of two lost queued jobs, one Pod when maxQueued is 1", async () => {
    const w = await world({
      recovery: { ...RECOVERY, redeliveryMs: 3_600_000 },
      runnerSets:
        "  - name: dind-k8s\n    labels: [dind-k8s]\n    maxRunners: 0\n    maxQueued: 1\n    minIdle: 0",
    });
    w.github.addRepo("octo-org/example-workflow");
    for (let i = 0; i < 2; i++) {
      w.github.addQueuedJob({ labels: ["self-hosted", "dind-k8s"], repo: "octo-org/example-workflow" });
    }
    await eventually("the audit to create a Pod", async () =>
      (await w.pods()).length > 0 ? true : undefined,
    );
    // Further audits (every RECOVERY.auditMs) find the set full.
    await new Promise((resolve) => setTimeout(resolve, 3 * (RECOVERY.auditMs ?? 400)));
    expect(await w.pods()).toHaveLength(1);
  });
});
