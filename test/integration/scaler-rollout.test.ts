// A runner set's spec changes (a new scaler starts with another template, as a ConfigMap change rolls the scaler
// out): the real apiserver, scheduler and kwok, the scaler as the shipped Role, the GitHub stand-in. Gated Pods are
// made again with the new spec as they are released, in their original order; a busy runner finishes on the old
// spec; an idle warm runner is replaced.
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterEach, describe, expect, inject, it } from "vitest";
import { ANNOTATIONS, LABELS } from "../../src/scaler/model/keys.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { eventually } from "../helpers/eventually.ts";
import { startGitHubStandIn } from "../helpers/github-standin.ts";
import { createTestNamespace } from "../helpers/kube.ts";
import { podInPhase } from "../helpers/kwok.ts";
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

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

/** The set with a template that says which revision it is: a change of it is a change of the spec. */
function setYaml(revision: string, maxRunners: number, minIdle = 0): string {
  return [
    realNodesRunnerSetYaml("roll", maxRunners, minIdle),
    "    template:",
    `      metadata: { labels: { revision: "${revision}" } }`,
    `      spec: { containers: [{ name: runner, env: [{ name: REVISION, value: "${revision}" }] }] }`,
  ].join("\n");
}

async function scenario() {
  const ns = await createTestNamespace(env, "rollout", { podSecurity: "privileged" });
  const github = await startGitHubStandIn({ target: { kind: "org", org: ORG }, token: TOKEN });
  running.push({ stop: () => github.close() });
  const client = standInTokenClient(github, { org: ORG, token: TOKEN, hookId: 1 });
  const core = ns.kc.makeApiClient(CoreV1Api);
  const start = async (runnerSets: string): Promise<RunningScaler> => {
    const scaler = await startTestScaler(env, {
      namespace: ns.name,
      github: client,
      runnerSets,
      // One release at a time, so the order of releases is the order of the plan.
      timing: { resyncMs: 150, debounceMs: 10, idleGraceMs: 400, releaseConcurrency: 1 },
    });
    running.push(scaler);
    github.setHook({ url: `${scaler.url}/webhook`, secret: WEBHOOK_SECRET });
    return scaler;
  };
  const send = async (action: "queued" | "in_progress", jobId: number, runnerName?: string) => {
    const payload = workflowJobPayload({
      action,
      jobId,
      labels: ["self-hosted", "dind-k8s"],
      runnerName: runnerName ?? null,
    });
    return (await github.deliver("workflow_job", payload)).statusCode;
  };
  const pods = async () => (await core.listNamespacedPod({ namespace: ns.name })).items;
  return { ns, github, core, start, send, pods };
}

const gated = (pod: V1Pod) => (pod.spec?.schedulingGates ?? []).length > 0;
const hashOf = (pod: V1Pod | undefined) => pod?.metadata?.annotations?.[ANNOTATIONS.specHash];
const byName = (pods: V1Pod[], name: string) => pods.find((pod) => pod.metadata?.name === name);
const stop = async (scaler: RunningScaler) => {
  await scaler.stop();
  running.splice(running.indexOf(scaler), 1);
};

describe("rolling a changed spec out", () => {
  it("gated Pods are made again with the new hash, released in their original order; a busy runner is left alone", async () => {
    const s = await scenario();
    const first = await s.start(setYaml("1", 1));
    // Job 201 takes the one slot and its runner turns busy.
    expect(await s.send("queued", 201)).toBe(201);
    await podInPhase(s.ns.kc, s.ns.name, "roll-201-1", "Running");
    expect(await s.send("in_progress", 201, "roll-201-1")).toBe(200);
    await eventually("201 busy", async () =>
      Boolean(byName(await s.pods(), "roll-201-1")?.metadata?.annotations?.[ANNOTATIONS.busyWith]),
    );
    // Three jobs wait, queued in an order that is not their names' order (one second apart: the apiserver's
    // creation times have whole seconds).
    const order = ["roll-204-1", "roll-202-1", "roll-203-1"];
    for (const name of order) {
      expect(await s.send("queued", Number(name.split("-")[1]))).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
    }
    const before = await s.pods();
    const oldHash = hashOf(byName(before, "roll-201-1"));
    expect(oldHash).toMatch(/^[0-9a-f]{16}$/);
    const original = new Map(
      order.map((name) => {
        const pod = byName(before, name)!;
        expect(gated(pod)).toBe(true);
        expect(hashOf(pod)).toBe(oldHash);
        return [name, { uid: pod.metadata?.uid, created: pod.metadata?.creationTimestamp }];
      }),
    );
    const busy = byName(before, "roll-201-1")!;
    await stop(first);

    // The new configuration: another template revision, room for everything.
    const second = await s.start(setYaml("2", 4));
    const released = await eventually("the three to be released", async () => {
      const now = await s.pods();
      const ours = order.map((name) => byName(now, name));
      return ours.every((pod) => pod && !gated(pod)) ? (ours as V1Pod[]) : undefined;
    });
    const newHash = hashOf(released[0]);
    expect(newHash).toMatch(/^[0-9a-f]{16}$/);
    expect(newHash).not.toBe(oldHash);
    for (const pod of released) {
      const name = pod.metadata!.name!;
      // A new object of the same name, with the new spec, keeping its job and its place.
      expect(pod.metadata?.uid).not.toBe(original.get(name)?.uid);
      expect(hashOf(pod)).toBe(newHash);
      expect(pod.metadata?.labels?.revision).toBe("2");
      expect(pod.metadata?.labels?.[LABELS.jobId]).toBe(name.split("-")[1]);
      expect(pod.spec?.containers.find((c) => c.name === "runner")?.env?.[0]).toEqual({
        name: "REVISION",
        value: "2",
      });
      expect(new Date(pod.metadata!.annotations![ANNOTATIONS.queuedAt]!).getTime()).toBe(
        original.get(name)!.created!.getTime(),
      );
    }
    const releaseOrder = [...released]
      .sort(
        (a, b) =>
          Date.parse(a.metadata!.annotations![ANNOTATIONS.releasedAt]!) -
          Date.parse(b.metadata!.annotations![ANNOTATIONS.releasedAt]!),
      )
      .map((pod) => pod.metadata?.name);
    expect(releaseOrder).toEqual(order);

    // The busy runner finishes its job on the spec it has.
    const still = byName(await s.pods(), "roll-201-1");
    expect(still?.metadata?.uid).toBe(busy.metadata?.uid);
    expect(still?.metadata?.deletionTimestamp).toBeUndefined();
    expect(hashOf(still)).toBe(oldHash);
    expect(still?.status?.phase).toBe("Running");
    // The gauge is set as a pass plans, before its releases: the pass after them shows the queue fresh.
    const metrics = await eventually("no stale queued Pods in the gauge", async () => {
      const text = await second.metrics.registry.getSingleMetricAsString("dind_k8s_runners_stale");
      return text.includes('dind_k8s_runners_stale{runner_set="roll",phase="queued"} 0') ? text : undefined;
    });
    expect(metrics).toContain('dind_k8s_runners_stale{runner_set="roll",phase="busy"} 1');
  });

  it("an idle warm runner of the old spec is replaced by one of the new", async () => {
    const s = await scenario();
    const first = await s.start(setYaml("1", 2, 1));
    const warm = await eventually("a warm runner Running", async () => {
      const pod = (await s.pods()).find((p) => p.metadata?.labels?.[LABELS.kind] === "warm");
      return pod?.status?.phase === "Running" ? pod : undefined;
    });
    const oldHash = hashOf(warm);
    await stop(first);

    await s.start(setYaml("2", 2, 1));
    const fresh = await eventually(
      "the old warm runner gone and a new one in its place",
      async () => {
        const now = await s.pods();
        const live = now.filter((p) => !p.metadata?.deletionTimestamp);
        const old = now.some((p) => p.metadata?.uid === warm.metadata?.uid);
        const [only] = live;
        return !old && live.length === 1 && only && !gated(only) && hashOf(only) !== oldHash
          ? only
          : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(fresh.metadata?.labels?.revision).toBe("2");
    // The old runner was deregistered, not left behind offline.
    expect(s.github.calls("actions/delete-self-hosted-runner-from-org")).toBe(1);
    expect(s.github.runners().map((runner) => runner.name)).toEqual([fresh.metadata?.name]);
  });

  it("a new spec the apiserver refuses: the queued Pods keep theirs and are released, none is lost", async () => {
    const s = await scenario();
    // Nothing runs yet: every job waits, gated.
    const first = await s.start(setYaml("1", 0).replace("maxRunners: 0", "maxRunners: 0\n    maxQueued: 5"));
    for (const id of [301, 302]) expect(await s.send("queued", id)).toBe(201);
    const before = await eventually("two gated Pods", async () => {
      const now = await s.pods();
      return now.length === 2 && now.every(gated) ? now : undefined;
    });
    await stop(first);

    // Valid for the configuration's rules, refused by the apiserver's strict field validation.
    const typo = setYaml("2", 2).replace("env: [{", "envv: [{");
    await s.start(typo);
    const released = await eventually("both released", async () => {
      const now = await s.pods();
      return now.length === 2 && !now.some(gated) ? now : undefined;
    });
    for (const pod of released) {
      const old = byName(before, pod.metadata!.name!);
      expect(pod.metadata?.uid).toBe(old?.metadata?.uid);
      expect(hashOf(pod)).toBe(hashOf(old));
    }
  });
});
