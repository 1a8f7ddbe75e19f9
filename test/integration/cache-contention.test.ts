// Two scalers that both believe they lead (a leader that hasn't noticed it lost the Lease yet) hand out claims at
// the same moment: the lease on the claim is written with a resourceVersion precondition, so one claim never goes
// to two Pods — the loser takes another free claim, or falls back when there is none.
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { afterEach, describe, expect, inject, it } from "vitest";
import { CachePool } from "../../src/scaler/cache/pool.ts";
import { parseConfig, type RunnerSet } from "../../src/scaler/config/load.ts";
import { CacheClaims } from "../../src/scaler/kube/cache-claims.ts";
import { RunnerPods } from "../../src/scaler/kube/runner-pods.ts";
import { ANNOTATIONS } from "../../src/scaler/model/keys.ts";
import type { RunnerTarget } from "../../src/scaler/model/target.ts";
import { silentLogger } from "../../src/scaler/observe/log.ts";
import { viewPod } from "../../src/scaler/plan/pod-view.ts";
import { buildRunnerPod } from "../../src/scaler/runner-pod/build-runner-pod.ts";
import { claimOf } from "../../src/scaler/runner-pod/cache-claim.ts";
import { createTestNamespace, kubeClientOf } from "../helpers/kube.ts";
import { testConfigYaml } from "../helpers/scaler.ts";

const env = inject("testenv");
const started: RunnerPods[] = [];
afterEach(async () => {
  for (const pods of started.splice(0)) await pods.stop();
});

async function setup(volumes: number) {
  const ns = await createTestNamespace(env, "cache-race", { podSecurity: "privileged" });
  const sets = [
    "  - name: raced",
    "    labels: [dind-k8s]",
    "    maxRunners: 4",
    "    minIdle: 0",
    `    cache: { volumes: ${volumes}, size: 1Gi }`,
  ].join("\n");
  const set = parseConfig(testConfigYaml(ns.name, sets), "test.yaml").runnerSets[0]!;
  const podFor = (runnerSet: RunnerSet, target: RunnerTarget): V1Pod =>
    buildRunnerPod(runnerSet, target, { namespace: ns.name, sidecars: "native" }).pod;
  const core = ns.kc.makeApiClient(CoreV1Api);
  const replica = async () => {
    const kube = await kubeClientOf(ns.kc);
    const pods = new RunnerPods({ kube, namespace: ns.name });
    await pods.start();
    started.push(pods);
    const pool = new CachePool({
      pods,
      claims: new CacheClaims({ kube, namespace: ns.name }),
      podFor,
      log: silentLogger,
      registry: new Registry(),
      leaseGraceMs: 60_000,
    });
    return { pods, pool };
  };
  // Two gated job Pods, as intake creates them.
  for (const jobId of [1, 2]) {
    await core.createNamespacedPod({
      namespace: ns.name,
      body: podFor(set, { kind: "job", jobId, runAttempt: 1, repository: "o/r" }),
    });
  }
  return { ns, set, core, replica };
}

async function viewsOf(pods: RunnerPods, count: number) {
  for (let i = 0; i < 100 && pods.cached().length < count; i++) await new Promise((r) => setTimeout(r, 20));
  return pods.cached().map(viewPod);
}

/**
 * Two replicas, each with its own cache of the same two gated Pods, read the pool (the first sync creates the
 * claims; the second finds them free) and then release one Pod each at the same moment.
 */
async function raceTwoReleases(volumes: number) {
  const { ns, set, core, replica } = await setup(volumes);
  const a = await replica();
  const b = await replica();
  const now = new Date();
  await a.pool.sync(set, await viewsOf(a.pods, 2), now);
  await b.pool.sync(set, await viewsOf(b.pods, 2), now);
  const [viewA] = (await viewsOf(a.pods, 2)).filter((view) => view.name === "raced-1-1");
  const [viewB] = (await viewsOf(b.pods, 2)).filter((view) => view.name === "raced-2-1");
  const results = await Promise.all([a.pool.attach(set, viewA!, now), b.pool.attach(set, viewB!, now)]);
  return { ns, core, results };
}

describe("two reconcilers leasing at once", () => {
  it("one claim, two releases: one gets it, the other falls back", async () => {
    const { ns, core, results } = await raceTwoReleases(1);
    expect(results.map((result) => result.result).sort()).toEqual(["attached", "miss"]);

    const pods = (await core.listNamespacedPod({ namespace: ns.name })).items;
    const mounting = pods.filter((pod) => claimOf(pod) === "raced-cache-0");
    expect(mounting).toHaveLength(1);
    const claim = await core.readNamespacedPersistentVolumeClaim({
      name: "raced-cache-0",
      namespace: ns.name,
    });
    const lease = JSON.parse(claim.metadata!.annotations![ANNOTATIONS.cacheLease]!);
    expect(lease).toMatchObject({
      pod: mounting[0]!.metadata!.name,
      uid: mounting[0]!.metadata!.uid,
      state: "bound",
    });
    // The loser's Pod is untouched: still the gated original, on the set's own storage.
    const loser = pods.find((pod) => pod.metadata?.name !== mounting[0]!.metadata!.name)!;
    expect(claimOf(loser)).toBeUndefined();
    expect(loser.spec?.schedulingGates).toHaveLength(1);
  });

  it("two claims, two releases from the same stale read: each gets its own", async () => {
    // Both try claim 0 first; the one whose write conflicts moves on to claim 1.
    const { ns, core, results } = await raceTwoReleases(2);
    expect(results.map((result) => result.result)).toEqual(["attached", "attached"]);
    const pods = (await core.listNamespacedPod({ namespace: ns.name })).items;
    expect(pods.map((pod) => claimOf(pod)).sort()).toEqual(["raced-cache-0", "raced-cache-1"]);
  });
});
