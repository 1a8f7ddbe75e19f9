// Every profile's Pod and Secret, as the builder makes them, must be accepted by a real kube-apiserver with strict
// field validation (an unknown or misplaced field is an error, not silently dropped) and Pod Security admission.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, NodeV1Api, SchedulingV1Api, type V1Pod } from "@kubernetes/client-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { parseConfig } from "../../src/scaler/config/load.ts";
import { SCHEDULING_GATE } from "../../src/scaler/model/keys.ts";
import type { SidecarMode } from "../../src/scaler/model/sidecar-mode.ts";
import { buildRunnerPod } from "../../src/scaler/runner-pod/build-runner-pod.ts";
import { adminKubeConfig, apiStatus, createTestNamespace, type TestNamespace } from "../helpers/kube.ts";

const env = inject("testenv");
const fixture = join(import.meta.dirname, "../fixtures/config/profiles.yaml");
const config = parseConfig(readFileSync(fixture, "utf8"), fixture);

/** Cluster-scoped objects the "everything", kata and sysbox sets refer to; created once, shared by files. */
async function ensureClusterObjects() {
  const kc = adminKubeConfig(env);
  const node = kc.makeApiClient(NodeV1Api);
  const scheduling = kc.makeApiClient(SchedulingV1Api);
  const creations = [
    () =>
      node.createRuntimeClass({
        body: { metadata: { name: "kata" }, handler: "kata" },
        fieldValidation: "Strict",
      }),
    () =>
      node.createRuntimeClass({
        body: { metadata: { name: "sysbox-runc" }, handler: "sysbox-runc" },
        fieldValidation: "Strict",
      }),
    () =>
      scheduling.createPriorityClass({
        body: { metadata: { name: "ci-runners" }, value: 1000 },
        fieldValidation: "Strict",
      }),
  ];
  for (const create of creations) {
    try {
      await create();
    } catch (error) {
      if (apiStatus(error) !== 409) throw error;
    }
  }
}

async function createBoth(ns: TestNamespace, setName: string, sidecars: SidecarMode, jobId: number) {
  const set = config.runnerSets.find((s) => s.name === setName);
  if (!set) throw new Error(`fixture has no set ${setName}`);
  const core = ns.kc.makeApiClient(CoreV1Api);
  const { pod } = buildRunnerPod(
    set,
    { kind: "job", jobId, runAttempt: 1 },
    { namespace: ns.name, sidecars },
  );
  const created = await core.createNamespacedPod({
    namespace: ns.name,
    body: pod,
    fieldValidation: "Strict",
  });
  const uid = created.metadata?.uid;
  expect(uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  // The Secret is made after the Pod exists, owned by it, exactly as the reconciler does.
  const { secret } = buildRunnerPod(
    set,
    { kind: "job", jobId, runAttempt: 1 },
    { namespace: ns.name, sidecars, podUid: uid, jitConfig: "ZmFrZS1qaXQtY29uZmln" },
  );
  const createdSecret = await core.createNamespacedSecret({
    namespace: ns.name,
    body: secret,
    fieldValidation: "Strict",
  });
  return { pod, created, createdSecret };
}

/** The stored Pod must say what the builder said: nothing dropped, nothing defaulted away. */
function expectStoredAsBuilt(built: V1Pod, stored: V1Pod) {
  const spec = stored.spec!;
  expect(spec.schedulingGates).toEqual([{ name: SCHEDULING_GATE }]);
  expect(spec.automountServiceAccountToken).toBe(false);
  expect(spec.restartPolicy).toBe("Never");
  expect(spec.runtimeClassName).toBe(built.spec?.runtimeClassName);
  expect(spec.hostUsers).toBe(built.spec?.hostUsers);
  const names = (containers: { name: string }[] | undefined) => (containers ?? []).map((c) => c.name);
  expect(names(spec.initContainers)).toEqual(names(built.spec?.initContainers));
  expect(names(spec.containers)).toEqual(names(built.spec?.containers));
  const dind = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === "dind")!;
  const builtDind = [...(built.spec?.initContainers ?? []), ...(built.spec?.containers ?? [])].find(
    (c) => c.name === "dind",
  )!;
  expect(dind.restartPolicy).toBe(builtDind.restartPolicy);
  expect(dind.args).toEqual(builtDind.args);
  expect(dind.securityContext?.privileged).toBe(builtDind.securityContext?.privileged);
  expect(dind.startupProbe?.exec?.command).toEqual(builtDind.startupProbe?.exec?.command);
  expect(spec.volumes?.map((v) => v.name)).toEqual(built.spec?.volumes?.map((v) => v.name));
}

describe("runner Pods on a real apiserver, Pod Security privileged", () => {
  let ns: TestNamespace;
  beforeAll(async () => {
    ns = await createTestNamespace(env, "runner-pod-priv", { podSecurity: "privileged" });
    await ensureClusterObjects();
    // The ServiceAccount admission plugin refuses Pods that name a missing ServiceAccount.
    await ns.kc
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: "ci-runner" } } });
  });

  const cases = config.runnerSets.flatMap((set) =>
    (["native", "legacy"] as const).map((sidecars) => ({ set: set.name, sidecars })),
  );
  it.each(cases)(
    "$set with $sidecars sidecar is accepted with strict field validation",
    async ({ set, sidecars }) => {
      const jobId = 1000 + cases.findIndex((c) => c.set === set && c.sidecars === sidecars);
      const { pod, created, createdSecret } = await createBoth(ns, set, sidecars, jobId);
      expectStoredAsBuilt(pod, created);
      expect(created.status?.conditions ?? []).not.toContainEqual(
        expect.objectContaining({ type: "PodScheduled", status: "True" }),
      );
      expect(createdSecret.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: "Pod",
        uid: created.metadata?.uid,
      });
      // stringData is folded into data by the apiserver.
      expect(Buffer.from(createdSecret.data?.jitConfig ?? "", "base64").toString()).toBe(
        "ZmFrZS1qaXQtY29uZmln",
      );
    },
  );

  it("a duplicate create of the same job is refused with 409 (duplicate webhook delivery is a no-op)", async () => {
    const set = config.runnerSets[0]!;
    const core = ns.kc.makeApiClient(CoreV1Api);
    const target = { kind: "job", jobId: 77, runAttempt: 1 } as const;
    const first = buildRunnerPod(set, target, { namespace: ns.name, sidecars: "native" }).pod;
    await core.createNamespacedPod({ namespace: ns.name, body: first, fieldValidation: "Strict" });
    const again = buildRunnerPod(set, target, { namespace: ns.name, sidecars: "native" }).pod;
    const error = await core
      .createNamespacedPod({ namespace: ns.name, body: again, fieldValidation: "Strict" })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiStatus(error)).toBe(409);
  });
});

describe("runner Pods on a real apiserver, Pod Security baseline", () => {
  let ns: TestNamespace;
  beforeAll(async () => {
    ns = await createTestNamespace(env, "runner-pod-base", { podSecurity: "baseline" });
    await ensureClusterObjects();
  });

  it.each(["native", "legacy"] as const)(
    "sysbox (%s sidecar) is accepted: dind isn't privileged",
    async (sidecars) => {
      const { pod, created } = await createBoth(ns, "sysbox", sidecars, sidecars === "native" ? 1 : 2);
      expectStoredAsBuilt(pod, created);
      expect(created.spec?.hostUsers).toBe(false);
    },
  );

  it("the privileged profile is refused there, so the namespace really enforces baseline", async () => {
    const error = await createBoth(ns, "default", "native", 3).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(apiStatus(error)).toBe(403);
    expect(String((error as { body?: unknown }).body)).toContain("privileged");
  });
});
