// The cache volume pool on the real apiserver, run by the real scaler (as the shipped Role) with the GitHub
// stand-in. The real scheduler places the Pods once their claims are bound (the real PersistentVolume controller
// binds each to a volume made here), and refuses a second Pod on a ReadWriteOncePod claim; kwok runs them and ends
// them in two steps (the runner exits, then dind with its report — test/env/kwok-stages.yaml); the real protection
// controller lets a claim go only when no Pod uses it. The test plays GitHub's events. A watcher lists the Pods all
// along and fails the test if two Pods that exist at the same moment (terminating ones included) mount one claim.
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterEach, describe, expect, inject, it } from "vitest";
import { parseConfig } from "../../src/scaler/config/load.ts";
import type { ReconcilerTiming } from "../../src/scaler/reconcile/reconciler.ts";
import { buildRunnerPod } from "../../src/scaler/runner-pod/build-runner-pod.ts";
import { claimOf } from "../../src/scaler/runner-pod/cache-claim.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { KWOK_TAINT } from "../env/kwok.ts";
import { eventually as poll } from "../helpers/eventually.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { podInPhase } from "../helpers/kwok.ts";
import { standInTokenClient, startTestScaler, testConfigYaml, WEBHOOK_SECRET } from "../helpers/scaler.ts";

const eventually = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000) =>
  poll(what, probe, { timeoutMs });

import { ANNOTATIONS } from "../../src/scaler/model/keys.ts";
import { workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");
const ORG = "octo-org";
const TOKEN = "ghp_standin_token";
const FAST: Partial<ReconcilerTiming> = {
  resyncMs: 150,
  debounceMs: 10,
  idleGraceMs: 60_000,
  orphanSweepMs: 60_000,
  pendingDeadlineMs: 60_000,
  cacheLeaseGraceMs: 20_000,
};
const SETS = [
  "  - name: cached",
  "    labels: [dind-k8s]",
  "    maxRunners: 3",
  "    minIdle: 0",
  "    cache: { volumes: 2, size: 1Gi }",
  `    tolerations: [{ key: ${KWOK_TAINT.key}, operator: Equal, value: ${KWOK_TAINT.value}, effect: ${KWOK_TAINT.effect} }]`,
].join("\n");

// The annotations kwok's Stages end a cache Pod by (test/env/kwok-stages.yaml).
const RUNNER_EXITED = "kwok.dind-k8s.test/runner-exited";
const DIND_EXITED = "kwok.dind-k8s.test/dind-exited";
const DIND_REPORT = "kwok.dind-k8s.test/dind-report";
const DIND_EXIT_CODE = "kwok.dind-k8s.test/dind-exit-code";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const gated = (pod: V1Pod) => (pod.spec?.schedulingGates ?? []).length > 0;
const podName = (jobId: number) => `cached-${jobId}-1`;
const dindEnv = (pod: V1Pod) =>
  Object.fromEntries(
    (pod.spec?.initContainers?.find((c) => c.name === "dind")?.env ?? []).map((e) => [e.name, e.value]),
  );

interface World {
  ns: TestNamespace;
  core: CoreV1Api;
  github: GitHubStandIn;
  scaler: RunningScaler;
  /** Every scaler this test started (a restart adds one); their metrics add up. */
  scalers: RunningScaler[];
  /** Starts a scaler (reconciling always, or under leader election as `identity`) and points the hook at it. */
  startScaler(identity?: string, runnerSets?: string): Promise<void>;
  send(
    action: "queued" | "in_progress" | "completed",
    jobId: number,
    runnerName?: string,
    repository?: string,
  ): Promise<number>;
  pods(): Promise<V1Pod[]>;
  claims(): Promise<V1PersistentVolumeClaim[]>;
  /** Fails the test with the snapshot if two existing Pods mount one claim; returns the mounts. */
  assertExclusive(): Promise<Map<string, string>>;
  /** Waits until the scheduler and kwok run the Pod. */
  run(name: string): Promise<void>;
  runnerExits(name: string): Promise<void>;
  podEnds(name: string, report?: { clean: boolean; dataBytes: number }): Promise<void>;
  finish(name: string, report?: { clean: boolean; dataBytes: number }): Promise<void>;
  /** Waits until no Pod is terminating (kwok confirmed each deletion; the garbage collector takes their Secrets). */
  settle(): Promise<void>;
  violations: string[];
  stopWatching(): Promise<void>;
  removeVolumes(): Promise<void>;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.stopWatching();
    for (const scaler of world.scalers) await scaler.stop();
    expect(world.github.violations).toEqual([]);
    await world.github.close();
    expect(world.violations).toEqual([]);
    await world.removeVolumes();
  }
});

/** The claims of the set "cached" (cache-claim.ts names them `<set>-cache-<index>`). */
const CLAIMS = ["cached-cache-0", "cached-cache-1"];

/**
 * A PersistentVolume for each claim, bound to it ahead (claimRef by name): the real PersistentVolume controller
 * binds the claim once the scaler makes it, and nothing of another test file can take the volume. hostPath, as
 * kwok mounts nothing.
 */
async function makeVolumes(ns: TestNamespace): Promise<() => Promise<void>> {
  const core = ns.kc.makeApiClient(CoreV1Api);
  const names = CLAIMS.map((claim) => `${ns.name}-${claim}`);
  await Promise.all(
    CLAIMS.map((claim, index) =>
      core.createPersistentVolume({
        body: {
          metadata: { name: names[index] },
          spec: {
            capacity: { storage: "1Gi" },
            accessModes: ["ReadWriteOncePod"],
            persistentVolumeReclaimPolicy: "Retain",
            storageClassName: "",
            hostPath: { path: `/var/lib/dind-k8s-test/${names[index]}` },
            claimRef: { namespace: ns.name, name: claim },
          },
        },
      }),
    ),
  );
  return async () => {
    await Promise.all(
      names.map((name) =>
        core.deletePersistentVolume({ name }).catch((error: unknown) => {
          if ((error as { code?: number }).code !== 404) throw error;
        }),
      ),
    );
  };
}

async function world(): Promise<World> {
  const ns = await createTestNamespace(env, "cache-pool", { podSecurity: "privileged" });
  const github = await startGitHubStandIn({ target: { kind: "org", org: ORG }, token: TOKEN });
  const core = ns.kc.makeApiClient(CoreV1Api);
  const violations: string[] = [];
  const removeVolumes = await makeVolumes(ns);

  const mountsOf = (pods: V1Pod[]) => {
    const mounts = new Map<string, string>();
    for (const pod of pods) {
      const claim = claimOf(pod);
      if (!claim) continue;
      const other = mounts.get(claim);
      if (other) {
        violations.push(`${claim} mounted by ${other} and ${pod.metadata?.name} at once`);
      }
      mounts.set(claim, pod.metadata?.name ?? "");
    }
    return mounts;
  };

  let watching = true;
  const watcher = (async () => {
    while (watching) {
      mountsOf((await core.listNamespacedPod({ namespace: ns.name })).items);
      await sleep(20);
    }
  })();

  const created: World = {
    ns,
    core,
    github,
    scaler: undefined as unknown as RunningScaler,
    scalers: [],
    violations,
    removeVolumes,
    async startScaler(identity, runnerSets = SETS) {
      const client = standInTokenClient(github, { org: ORG, token: TOKEN });
      this.scaler = await startTestScaler(env, {
        namespace: ns.name,
        github: client,
        timing: FAST,
        runnerSets,
        ...(identity
          ? { reconcile: { leaderElection: { identity, leaseDurationMs: 3_000, retryPeriodMs: 200 } } }
          : {}),
      });
      this.scalers.push(this.scaler);
      github.setHook({ url: `${this.scaler.url}/webhook`, secret: WEBHOOK_SECRET });
    },
    async send(action, jobId, runnerName, repository) {
      const payload = workflowJobPayload({
        action,
        jobId,
        labels: ["self-hosted", "dind-k8s"],
        runnerName: runnerName ?? null,
        ...(repository ? { repository } : {}),
      });
      return (await github.deliver("workflow_job", payload)).statusCode;
    },
    async pods() {
      return (await core.listNamespacedPod({ namespace: ns.name })).items;
    },
    async claims() {
      return (await core.listNamespacedPersistentVolumeClaim({ namespace: ns.name })).items;
    },
    async assertExclusive() {
      const mounts = mountsOf(await this.pods());
      expect(violations).toEqual([]);
      return mounts;
    },
    async run(name) {
      await podInPhase(ns.kc, ns.name, name, "Running");
    },
    async runnerExits(name) {
      // The runner exits while the dind sidecar still stops its daemon: the scaler deletes the Pod, which stays
      // Terminating until dind has exited (kwok waits for it, as a kubelet waits for its containers).
      await core.patchNamespacedPod(
        { name, namespace: ns.name, body: { metadata: { annotations: { [RUNNER_EXITED]: "0" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await eventually(`${name} deleted by the scaler (Terminating)`, async () => {
        const current = await core.readNamespacedPod({ name, namespace: ns.name });
        return Boolean(current.metadata?.deletionTimestamp);
      });
    },
    async podEnds(name, report) {
      // Then dind exits with the report its start script writes as the termination message, and kwok removes
      // the Pod right away, as a kubelet does: the scaler may only see the Pod's last state in the delete event.
      const annotations: Record<string, string> = { [DIND_EXITED]: "true" };
      if (report) annotations[DIND_REPORT] = JSON.stringify(report);
      if (report?.clean === false) annotations[DIND_EXIT_CODE] = "137";
      await core.patchNamespacedPod(
        { name, namespace: ns.name, body: { metadata: { annotations } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      await eventually(`${name} gone`, async () => {
        const pods = await core.listNamespacedPod({ namespace: ns.name });
        return !pods.items.some((pod) => pod.metadata?.name === name && pod.metadata.deletionTimestamp);
      });
    },
    async finish(name, report) {
      await this.runnerExits(name);
      await this.podEnds(name, report);
    },
    async settle() {
      await eventually("no Pod terminating", async () =>
        (await this.pods()).every((pod) => !pod.metadata?.deletionTimestamp),
      );
    },
    async stopWatching() {
      watching = false;
      await watcher;
    },
  };
  worlds.push(created);
  return created;
}

function metricSum(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

/**
 * The scaler counts a release just after its gate patch returns, and a test may see the Pod released first: waits
 * (briefly) for exactly `count`, so a count that is wrong still fails, with what it was.
 */
async function expectReleases(w: World, result: "hit" | "miss", count: number): Promise<void> {
  let last = -1;
  await eventually(
    `${count} cache ${result}(es) counted`,
    async () => {
      last = await cacheReleases(w, result);
      return last === count;
    },
    5_000,
  ).catch(() => undefined);
  expect(last).toBe(count);
}

/** Waits until job `jobId`'s Pod is released with its daemon on a cache claim; returns it. */
function releasedOnClaim(w: World, jobId: number): Promise<V1Pod> {
  return eventually(`job ${jobId} released on the claim`, async () => {
    const found = (await w.pods()).find((p) => p.metadata?.name === podName(jobId));
    return found && !gated(found) && claimOf(found) ? found : undefined;
  });
}

/** The job's runner ends cleanly; waits until the pool's one claim is free again. */
async function finishAndFreeClaim(w: World, jobId: number): Promise<void> {
  await w.run(podName(jobId));
  await w.finish(podName(jobId), { clean: true, dataBytes: 1 });
  await w.settle();
  await eventually(`the claim free after job ${jobId}`, async () => {
    const claim = (await w.claims())[0];
    return claim && !claim.metadata?.annotations?.[ANNOTATIONS.cacheLease];
  });
}

async function cacheReleases(w: World, result: "hit" | "miss"): Promise<number> {
  let sum = 0;
  for (const scaler of w.scalers) {
    const text = await scaler.metrics.registry.metrics();
    sum += metricSum(text, "dind_k8s_cache_releases_total", `runner_set="cached",result="${result}"`);
  }
  return sum;
}

describe("the cache volume pool", () => {
  it("2 claims, 6 jobs in waves: exclusive at every step, hits and fallbacks, leases right across a restart", async () => {
    const w = await world();
    await w.startScaler();
    const claims = await eventually("the pool's 2 claims", async () => {
      const found = await w.claims();
      return found.length === 2 ? found : undefined;
    });
    expect(claims.map((claim) => claim.metadata?.name).sort()).toEqual(["cached-cache-0", "cached-cache-1"]);
    expect(claims[0]!.spec?.accessModes).toEqual(["ReadWriteOncePod"]);

    // Wave 1: three jobs, three slots, two claims: two hits and one fallback to emptyDir.
    for (const id of [1, 2, 3]) expect(await w.send("queued", id)).toBe(201);
    const wave1 = await eventually("wave 1 released", async () => {
      const pods = await w.pods();
      return pods.length === 3 && pods.every((pod) => !gated(pod)) ? pods : undefined;
    });
    await w.assertExclusive();
    const onClaim = wave1.filter((pod) => claimOf(pod));
    const fallback = wave1.filter((pod) => !claimOf(pod));
    expect(onClaim).toHaveLength(2);
    expect(fallback).toHaveLength(1);
    expect(fallback[0]!.spec?.volumes?.find((v) => v.name === "dind-storage")?.emptyDir).toEqual({
      sizeLimit: "40Gi",
    });
    // Fresh claims: nothing to check before use.
    for (const pod of onClaim) expect(dindEnv(pod).DIND_K8S_CACHE_CHECK).toBeUndefined();
    // Each released Pod has its JIT Secret, owned by the Pod that runs (the replacement).
    for (const pod of wave1) {
      const secret = await w.core.readNamespacedSecret({ name: pod.metadata!.name!, namespace: w.ns.name });
      expect(secret.metadata?.ownerReferences?.[0]?.uid).toBe(pod.metadata?.uid);
    }
    await expectReleases(w, "hit", 2);
    await expectReleases(w, "miss", 1);

    for (const pod of wave1) {
      await w.run(pod.metadata!.name!);
      await w.send("in_progress", Number(pod.metadata!.labels!["dind-k8s.io/job-id"]), pod.metadata!.name!);
    }
    await w.assertExclusive();
    const [cleanPod, uncleanPod] = onClaim.map((pod) => pod.metadata!.name!) as [string, string];
    const cleanClaim = claimOf(onClaim[0]!)!;
    const uncleanClaim = claimOf(onClaim[1]!)!;

    // The first one's runner exits. Its claim is not free while the Pod exists (Terminating, until the kubelet
    // confirms): the next job falls back (the other claim is in use too), never shares.
    await w.runnerExits(cleanPod);
    expect(await w.send("queued", 4)).toBe(201);
    const four = await eventually("job 4 released", async () => {
      const pod = (await w.pods()).find((p) => p.metadata?.name === podName(4));
      return pod && !gated(pod) ? pod : undefined;
    });
    expect(claimOf(four)).toBeUndefined();
    await w.assertExclusive();
    await w.podEnds(cleanPod, { clean: true, dataBytes: 123_456 });
    await w.settle();
    await eventually("the clean claim's last use recorded and its lease gone", async () => {
      const claim = (await w.claims()).find((c) => c.metadata?.name === cleanClaim);
      const annotations = claim?.metadata?.annotations ?? {};
      return (
        annotations[ANNOTATIONS.cacheLease] === undefined &&
        annotations[ANNOTATIONS.cacheLastUse]?.includes('"clean":true')
      );
    });
    const lastUse = JSON.parse(
      (await w.claims()).find((c) => c.metadata?.name === cleanClaim)!.metadata!.annotations![
        ANNOTATIONS.cacheLastUse
      ]!,
    );
    expect(lastUse).toMatchObject({ pod: cleanPod, clean: true, dataBytes: 123_456 });
    const bytes = await w.scaler.metrics.registry.metrics();
    expect(bytes).toContain(`dind_k8s_cache_volume_bytes{runner_set="cached",claim="${cleanClaim}"} 123456`);

    // The fallback Pod of wave 1 ends too, which frees a runner slot.
    await w.finish(fallback[0]!.metadata!.name!);

    // Wave 2: job 5 takes the freed claim: a hit, without a check (the last Pod stopped its daemon cleanly).
    expect(await w.send("queued", 5)).toBe(201);
    const five = await eventually("job 5 released on the free claim", async () => {
      const pod = (await w.pods()).find((p) => p.metadata?.name === podName(5));
      return pod && !gated(pod) ? pod : undefined;
    });
    expect(claimOf(five)).toBe(cleanClaim);
    expect(dindEnv(five).DIND_K8S_CACHE_CHECK).toBeUndefined();
    await w.assertExclusive();

    // Restart mid-wave: the scaler goes away after the unclean Pod's runner exited; meanwhile its daemon dies
    // without a clean stop. A second scaler reads the leases from the claims and carries on.
    await w.runnerExits(uncleanPod);
    await w.scaler.stop();
    await w.podEnds(uncleanPod, { clean: false, dataBytes: 999 });
    await w.assertExclusive();
    await w.startScaler();
    expect(await w.send("queued", 6)).toBe(201);
    const six = await eventually("job 6 released", async () => {
      const pod = (await w.pods()).find((p) => p.metadata?.name === podName(6));
      return pod && !gated(pod) ? pod : undefined;
    });
    await w.assertExclusive();
    // The claim the unclean Pod left: job 6 got it (claim 0 is still job 5's), and checks it before use.
    expect(claimOf(six)).toBe(uncleanClaim);
    expect(dindEnv(six).DIND_K8S_CACHE_CHECK).toBe("1");
    expect(claimOf(five)).not.toBe(claimOf(six));

    // Everyone finishes; the pool ends with both claims free and no Pods left.
    for (const pod of [four, five, six]) {
      await w.run(pod.metadata!.name!);
      await w.finish(pod.metadata!.name!, { clean: true, dataBytes: 1 });
      await w.assertExclusive();
    }
    await eventually("everything gone and both claims free", async () => {
      await w.settle();
      const [pods, claimsNow] = await Promise.all([w.pods(), w.claims()]);
      return (
        pods.filter((pod) => !gated(pod)).length === 0 &&
        claimsNow.every((claim) => claim.metadata?.annotations?.[ANNOTATIONS.cacheLease] === undefined)
      );
    });
    await expectReleases(w, "hit", 4);
    await expectReleases(w, "miss", 2);
    expect((await w.claims()).map((claim) => claim.metadata?.uid).sort()).toEqual(
      claims.map((claim) => claim.metadata?.uid).sort(),
    );
  });

  it("two replicas under leader election: only the leader leases, and the next leader carries on", async () => {
    const w = await world();
    await w.startScaler("replica-a");
    await w.startScaler("replica-b");
    await eventually("the pool's claims", async () => (await w.claims()).length === 2);
    const leader = await eventually("a leader", async () => w.scalers.find((s) => s.elector?.leading));
    const follower = w.scalers.find((s) => s !== leader)!;

    for (const id of [11, 12, 13]) expect(await w.send("queued", id)).toBe(201);
    const first = await eventually("the first three released", async () => {
      const pods = await w.pods();
      return pods.length === 3 && pods.every((pod) => !gated(pod)) ? pods : undefined;
    });
    await w.assertExclusive();
    expect(first.filter((pod) => claimOf(pod))).toHaveLength(2);
    // The follower takes webhooks but never touches a claim.
    const followerMetrics = await follower.metrics.registry.metrics();
    expect(followerMetrics).not.toContain("dind_k8s_cache_releases_total{");

    // The leader goes away while its runners still run; the follower takes over from the claims' leases.
    for (const pod of first) await w.run(pod.metadata!.name!);
    await leader.stop();
    w.scalers.splice(w.scalers.indexOf(leader), 1);
    await eventually("the follower leads", async () => follower.elector?.leading);
    w.github.setHook({ url: `${follower.url}/webhook`, secret: WEBHOOK_SECRET });
    for (const pod of first) await w.finish(pod.metadata!.name!, { clean: true, dataBytes: 10 });
    for (const id of [14, 15, 16]) expect(await w.send("queued", id)).toBe(201);
    const second = await eventually("the next three released", async () => {
      const pods = (await w.pods()).filter(
        (pod) => Number(pod.metadata?.labels?.["dind-k8s.io/job-id"]) > 13,
      );
      return pods.length === 3 && pods.every((pod) => !gated(pod)) ? pods : undefined;
    });
    await w.assertExclusive();
    const onClaims = second.filter((pod) => claimOf(pod));
    expect(onClaims).toHaveLength(2);
    // Left cleanly by the first wave: no check.
    for (const pod of onClaims) expect(dindEnv(pod).DIND_K8S_CACHE_CHECK).toBeUndefined();
    const followerHits = metricSum(
      await follower.metrics.registry.metrics(),
      "dind_k8s_cache_releases_total",
      'runner_set="cached",result="hit"',
    );
    expect(followerHits).toBe(2);
  });

  it("per repository: a claim last used for X is emptied before Y's job, recorded on it; Y's next job keeps it", async () => {
    const w = await world();
    await w.startScaler(undefined, SETS.replace("volumes: 2", "volumes: 1"));
    await eventually("the pool's claim", async () => (await w.claims()).length === 1);
    const repositoryOf = async () =>
      (await w.claims())[0]?.metadata?.annotations?.[ANNOTATIONS.cacheRepository];
    const releaseAndFinish = async (jobId: number, repository: string) => {
      expect(await w.send("queued", jobId, undefined, repository)).toBe(201);
      const pod = await releasedOnClaim(w, jobId);
      expect(await repositoryOf()).toBe(repository);
      await finishAndFreeClaim(w, jobId);
      return dindEnv(pod);
    };
    // A fresh claim: nothing to empty.
    expect((await releaseAndFinish(31, "octo-org/x")).DIND_K8S_CACHE_WIPE).toBeUndefined();
    // Another repository: the start script empties the claim first.
    expect((await releaseAndFinish(32, "octo-org/y")).DIND_K8S_CACHE_WIPE).toBe("1");
    // The same repository again: its images and build cache are kept.
    expect((await releaseAndFinish(33, "octo-org/y")).DIND_K8S_CACHE_WIPE).toBeUndefined();
    await w.assertExclusive();
  });

  it("per repository: a warm runner, whose repository is unknown, is released on the set's own storage", async () => {
    const w = await world();
    await w.startScaler(undefined, SETS.replace("minIdle: 0", "minIdle: 1"));
    const warm = await eventually("the warm runner released", async () => {
      const pod = (await w.pods()).find((p) => p.metadata?.labels?.["dind-k8s.io/kind"] === "warm");
      return pod && !gated(pod) ? pod : undefined;
    });
    expect(claimOf(warm)).toBeUndefined();
    await expectReleases(w, "miss", 1);
    expect((await w.claims()).every((claim) => !claim.metadata?.annotations?.[ANNOTATIONS.cacheLease])).toBe(
      true,
    );
  });

  it("scope runnerSet: any job gets the claim as it is, and the claim records no repository", async () => {
    const w = await world();
    await w.startScaler(
      undefined,
      SETS.replace("volumes: 2, size: 1Gi", "volumes: 1, size: 1Gi, scope: runnerSet"),
    );
    await eventually("the pool's claim", async () => (await w.claims()).length === 1);
    for (const [jobId, repository] of [
      [41, "octo-org/x"],
      [42, "octo-org/y"],
    ] as const) {
      expect(await w.send("queued", jobId, undefined, repository)).toBe(201);
      const pod = await releasedOnClaim(w, jobId);
      expect(dindEnv(pod).DIND_K8S_CACHE_WIPE).toBeUndefined();
      expect((await w.claims())[0]?.metadata?.annotations?.[ANNOTATIONS.cacheRepository]).toBeUndefined();
      await finishAndFreeClaim(w, jobId);
    }
  });

  it("claims made for other settings are recycled once free, never under a Pod", async () => {
    const w = await world();
    await w.startScaler();
    await eventually("the pool's claims", async () => (await w.claims()).length === 2);
    expect(await w.send("queued", 21)).toBe(201);
    const busy = await eventually("job 21 released on a claim", async () => {
      const pod = (await w.pods()).find((p) => p.metadata?.name === podName(21));
      return pod && !gated(pod) && claimOf(pod) ? pod : undefined;
    });
    await w.run(podName(21));
    const busyClaim = claimOf(busy)!;
    const before = new Map((await w.claims()).map((claim) => [claim.metadata!.name!, claim.metadata!.uid!]));

    // The operator doubles the size. The real protection controller lets a deleted claim go once no Pod uses
    // it; the scaler must not even ask for the busy one.
    await w.scaler.stop();
    w.scalers.splice(0);
    await w.startScaler(undefined, SETS.replace("size: 1Gi", "size: 2Gi"));
    const finalize = async ({ busyMayGo = false } = {}) => {
      for (const claim of await w.claims()) {
        if (claim.metadata?.deletionTimestamp && !busyMayGo) expect(claim.metadata.name).not.toBe(busyClaim);
      }
    };
    const sizeOf = (claim: V1PersistentVolumeClaim) => String(claim.spec?.resources?.requests?.storage);
    await eventually("the free claim made again at 2Gi", async () => {
      await finalize();
      const claims = await w.claims();
      return claims.some((claim) => claim.metadata?.name !== busyClaim && sizeOf(claim) === "2Gi");
    });
    // The claim under job 21's daemon is left alone while the Pod exists.
    await sleep(500);
    const kept = (await w.claims()).find((claim) => claim.metadata?.name === busyClaim)!;
    expect(kept.metadata?.uid).toBe(before.get(busyClaim));
    expect(kept.metadata?.deletionTimestamp).toBeUndefined();
    await w.assertExclusive();

    await w.finish(podName(21), { clean: true, dataBytes: 1 });
    await eventually("the other claim made again at 2Gi once its Pod is gone", async () => {
      await finalize({ busyMayGo: true });
      const claims = await w.claims();
      return (
        claims.length === 2 &&
        claims.every((claim) => sizeOf(claim) === "2Gi" && !claim.metadata?.deletionTimestamp)
      );
    });
    const metrics = await w.scaler.metrics.registry.metrics();
    expect(metricSum(metrics, "dind_k8s_cache_recycled_total", 'runner_set="cached",reason="settings"')).toBe(
      2,
    );
  });

  it("a claim whose volume was lost is replaced by a new one", async () => {
    const w = await world();
    await w.startScaler();
    const [first] = await eventually("the pool's claims", async () => {
      const claims = await w.claims();
      return claims.length === 2 ? claims.filter((c) => c.metadata?.name === "cached-cache-1") : undefined;
    });
    await eventually("claim 1 bound to its volume", async () => {
      const claim = (await w.claims()).find((c) => c.metadata?.name === "cached-cache-1");
      return claim?.status?.phase === "Bound";
    });
    // A person deletes the volume under the claim (and takes off the protection finalizer that would keep it
    // while bound): the real PersistentVolume controller marks the claim Lost.
    const volume = `${w.ns.name}-cached-cache-1`;
    await w.core.deletePersistentVolume({ name: volume });
    await w.core.patchPersistentVolume(
      { name: volume, body: { metadata: { finalizers: null } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually(
      "a new claim 1",
      async () => {
        const again = (await w.claims()).find((c) => c.metadata?.name === "cached-cache-1");
        return again && again.metadata?.uid !== first!.metadata?.uid && !again.metadata?.deletionTimestamp;
      },
      60_000,
    );
    const metrics = await w.scaler.metrics.registry.metrics();
    expect(metricSum(metrics, "dind_k8s_cache_recycled_total", 'runner_set="cached",reason="lost"')).toBe(1);
  });

  it("a job cancelled while its Pod waited on a claim for GitHub: the tombstone moves off the claim", async () => {
    const w = await world();
    await w.startScaler();
    await eventually("the pool's claims", async () => (await w.claims()).length === 2);
    // GitHub fails every JIT config request: the Pod gets its claim, but the release can't finish.
    w.github.failNext("actions/generate-runner-jitconfig-for-org", 100_000, { status: 500 });
    expect(await w.send("queued", 31)).toBe(201);
    const waiting = await eventually("job 31 on a claim, still gated", async () => {
      const pod = (await w.pods()).find((p) => p.metadata?.name === podName(31));
      return pod && gated(pod) && claimOf(pod) ? pod : undefined;
    });
    const claim = claimOf(waiting)!;
    expect(await w.send("completed", 31)).toBe(200);
    const tombstone = await eventually("the tombstone without the claim, and the claim free", async () => {
      const pod = (await w.pods()).find((p) => p.metadata?.name === podName(31));
      const lease = (await w.claims()).find((c) => c.metadata?.name === claim)?.metadata?.annotations?.[
        ANNOTATIONS.cacheLease
      ];
      return pod && !claimOf(pod) && lease === undefined ? pod : undefined;
    });
    expect(gated(tombstone)).toBe(true);
    expect(tombstone.metadata?.labels?.["dind-k8s.io/job-state"]).toBe("done");
    // Still the job's dedup record: a late duplicate queued delivery changes nothing.
    expect(await w.send("queued", 31)).toBe(200);
    await w.assertExclusive();
  });

  it("a scaler that died between deleting a gated Pod and creating it on a claim: the next one recreates and releases it", async () => {
    const w = await world();
    await w.startScaler();
    // Bound: the PersistentVolume controller is done with them (a write of its own would race the patch below).
    await eventually(
      "the pool's claims, bound",
      async () =>
        (await w.claims()).filter((claim) => claim.status?.phase === "Bound" && claim.metadata?.finalizers)
          .length === 2,
    );
    await w.scaler.stop();

    // What the dead scaler left: the lease on claim 0 ("replacing", with the job), and no Pod.
    const set = parseConfig(testConfigYaml(w.ns.name, SETS), "test.yaml").runnerSets[0]!;
    const target = { kind: "job", jobId: 42, runAttempt: 1, repository: "octo-org/repo" } as const;
    const { pod } = buildRunnerPod(set, target, { namespace: w.ns.name, sidecars: "native" });
    await w.core.patchNamespacedPersistentVolumeClaim(
      {
        name: "cached-cache-0",
        namespace: w.ns.name,
        body: {
          metadata: {
            annotations: {
              [ANNOTATIONS.cacheLease]: JSON.stringify({
                pod: pod.metadata?.name,
                state: "replacing",
                at: new Date().toISOString(),
                target,
                queuedAt: new Date().toISOString(),
              }),
            },
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );

    await w.startScaler();
    const recreated = await eventually("the job's Pod recreated on claim 0 and released", async () => {
      const found = (await w.pods()).find((p) => p.metadata?.name === pod.metadata?.name);
      return found && !gated(found) ? found : undefined;
    });
    expect(claimOf(recreated)).toBe("cached-cache-0");
    expect(recreated.metadata?.labels?.["dind-k8s.io/job-id"]).toBe("42");
    await w.core.readNamespacedSecret({ name: pod.metadata!.name!, namespace: w.ns.name });
    await w.assertExclusive();
  });
});
