// Smoke tests of the integration test environment itself: every part is real and behaves as the
// other tests rely on (strict validation, scheduling gates, native sidecars, RBAC, the real scheduler and
// controller-manager under their own identities, the kubelet stand-in, dockerd, helm, act).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CoordinationV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { KWOK_TAINT, KWOK_TOLERATION, NODE_CAPACITY, NODE_LEASE_SECONDS, NODE_NAMES } from "../env/kwok.ts";
import { ACT_VERSION, HELM_VERSION, KUBERNETES_VERSION } from "../env/versions.ts";
import { docker } from "../helpers/docker.ts";
import { eventually } from "../helpers/eventually.ts";
import {
  adminKubeConfig,
  apiStatus,
  createStrict,
  createTestNamespace,
  deleteTestNamespaces,
  restrictedKubeConfig,
  type TestNamespace,
} from "../helpers/kube.ts";
import { endRunner, podInPhase } from "../helpers/kwok.ts";

const execFileAsync = promisify(execFile);
const env = inject("testenv");

/** Waits until `read` answers 404: the object was deleted for real. */
function gone(what: string, read: () => Promise<unknown>, timeoutMs: number): Promise<true> {
  const answered404 = () =>
    read().then(
      () => false as const,
      (error: unknown) => apiStatus(error) === 404 || (false as const),
    );
  return eventually(what, answered404, { timeoutMs, intervalMs: 250 });
}

function gatedPodWithNativeSidecar(namespace: string, name: string): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      schedulingGates: [{ name: "dind-k8s.io/runner" }],
      tolerations: [KWOK_TOLERATION],
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      initContainers: [
        {
          name: "dind",
          image: "docker:dind",
          restartPolicy: "Always",
          args: ["dockerd", "--host=unix:///var/run/docker.sock"],
          securityContext: { privileged: true },
          startupProbe: { exec: { command: ["docker", "info"] }, periodSeconds: 1, failureThreshold: 120 },
          volumeMounts: [{ name: "docker-sock", mountPath: "/var/run" }],
        },
      ],
      containers: [
        {
          name: "runner",
          image: "ghcr.io/actions/actions-runner:latest",
          env: [{ name: "DOCKER_HOST", value: "unix:///var/run/docker.sock" }],
          volumeMounts: [{ name: "docker-sock", mountPath: "/var/run" }],
        },
      ],
      volumes: [{ name: "docker-sock", emptyDir: {} }],
    },
  };
}

describe("kube-apiserver", () => {
  let ns: TestNamespace;
  beforeAll(async () => {
    ns = await createTestNamespace(env, "testenv", { podSecurity: "privileged" });
  });

  it("reports the pinned release on /version", () => {
    expect(env.kube.version).toBe(KUBERNETES_VERSION);
  });

  it("rejects an unknown field under strict field validation", async () => {
    const pod = gatedPodWithNativeSidecar(ns.name, "typo");
    const broken = { ...pod, spec: { ...pod.spec, restartPolicyy: "Never" } } as V1Pod;
    await expect(createStrict(env, broken)).rejects.toThrow(/unknown field "spec.restartPolicyy"/);
  });

  it("holds a gated Pod: no binding, not even by hand, and the real scheduler leaves it alone", async () => {
    const core = ns.kc.makeApiClient(CoreV1Api);
    const created = await createStrict(env, gatedPodWithNativeSidecar(ns.name, "runner-1"));
    expect(created.spec?.initContainers?.[0]?.restartPolicy).toBe("Always");
    expect(created.spec?.schedulingGates).toEqual([{ name: "dind-k8s.io/runner" }]);
    await expect(
      core.createNamespacedPodBinding({
        name: "runner-1",
        namespace: ns.name,
        body: {
          metadata: { name: "runner-1" },
          target: { apiVersion: "v1", kind: "Node", name: NODE_NAMES[0] },
        },
      }),
    ).rejects.toSatisfy((error) => apiStatus(error) === 409);
    // Three Nodes with room, and a second to decide: the gate is what keeps it off them.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const held = await core.readNamespacedPod({ name: "runner-1", namespace: ns.name });
    expect(held.spec?.nodeName).toBeUndefined();
    expect(held.status?.phase).toBe("Pending");
    expect(held.status?.conditions?.find((c) => c.type === "PodScheduled")?.reason).toBe("SchedulingGated");
  });

  it("takes a released Pod through bound → Running with the dind sidecar → Succeeded when its job ends", async () => {
    const core = ns.kc.makeApiClient(CoreV1Api);
    const current = await core.readNamespacedPod({ name: "runner-1", namespace: ns.name });
    current.spec!.schedulingGates = [];
    await core.replaceNamespacedPod({ name: "runner-1", namespace: ns.name, body: current });

    const running = await podInPhase(ns.kc, ns.name, "runner-1", "Running");
    expect(NODE_NAMES).toContain(running.spec?.nodeName);
    expect(running.status?.conditions?.find((c) => c.type === "PodScheduled")?.status).toBe("True");
    expect(running.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(running.status?.initContainerStatuses).toEqual([
      expect.objectContaining({
        name: "dind",
        ready: true,
        started: true,
        state: { running: expect.anything() },
      }),
    ]);
    expect(running.status?.containerStatuses).toEqual([
      expect.objectContaining({
        name: "runner",
        ready: true,
        started: true,
        state: { running: expect.anything() },
      }),
    ]);
    expect(running.status?.podIP).toMatch(/^10\.244\./);

    await endRunner(ns.kc, ns.name, "runner-1");
    const done = await podInPhase(ns.kc, ns.name, "runner-1", "Succeeded");
    expect(done.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: "Completed",
    });
    expect(done.status?.initContainerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0 });
    expect(done.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "PodCompleted",
    });
  });

  it("fails a Pod whose runner exits non-zero", async () => {
    const pod = gatedPodWithNativeSidecar(ns.name, "runner-3");
    pod.spec!.schedulingGates = [];
    await createStrict(env, pod);
    await podInPhase(ns.kc, ns.name, "runner-3", "Running");
    await endRunner(ns.kc, ns.name, "runner-3", 3);
    const failed = await podInPhase(ns.kc, ns.name, "runner-3", "Failed");
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 3,
      reason: "Error",
    });
  });

  it("enforces RBAC: a ServiceAccount gets what its Role grants and nothing else", async () => {
    const restricted = await restrictedKubeConfig(env, ns.name, "pod-reader", [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
    ]);
    const core = restricted.makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: ns.name });
    expect(pods.items.map((pod) => pod.metadata?.name)).toContain("runner-1");

    await expect(core.listNamespacedSecret({ namespace: ns.name })).rejects.toSatisfy(
      (error) => apiStatus(error) === 403,
    );
    await expect(
      core.createNamespacedPod({
        namespace: ns.name,
        body: gatedPodWithNativeSidecar(ns.name, "not-allowed"),
      }),
    ).rejects.toSatisfy((error) => apiStatus(error) === 403);
    await expect(core.listNamespacedPod({ namespace: "default" })).rejects.toSatisfy(
      (error) => apiStatus(error) === 403,
    );
  });

  it("removes a deleted running Pod once its kubelet (kwok) confirms, then collects the Secret it owned", async () => {
    const core = ns.kc.makeApiClient(CoreV1Api);
    const pod = gatedPodWithNativeSidecar(ns.name, "runner-2");
    pod.spec!.schedulingGates = [];
    const created = await createStrict(env, pod);
    await createStrict(env, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "runner-2-jit",
        namespace: ns.name,
        ownerReferences: [
          { apiVersion: "v1", kind: "Pod", name: "runner-2", uid: created.metadata!.uid!, controller: true },
        ],
      },
      stringData: { jitConfig: "placeholder" },
    });
    await podInPhase(ns.kc, ns.name, "runner-2", "Running");

    await core.deleteNamespacedPod({ name: "runner-2", namespace: ns.name });
    await gone(
      "the Pod's removal",
      () => core.readNamespacedPod({ name: "runner-2", namespace: ns.name }),
      30_000,
    );
    await gone(
      "the Secret's collection",
      () => core.readNamespacedSecret({ name: "runner-2-jit", namespace: ns.name }),
      30_000,
    );
  });
});

describe("kube-controller-manager", () => {
  let ns: TestNamespace;
  let core: CoreV1Api;
  beforeAll(async () => {
    ns = await createTestNamespace(env, "controllers");
    core = ns.kc.makeApiClient(CoreV1Api);
  });

  it("gives a new namespace its default ServiceAccount and the cluster CA (ServiceAccount, root CA publisher)", async () => {
    const name = `fresh-${ns.name}`;
    await core.createNamespace({ body: { metadata: { name } } });
    const account = await eventually("the default ServiceAccount", () =>
      core.readNamespacedServiceAccount({ name: "default", namespace: name }),
    );
    expect(account.metadata?.name).toBe("default");
    const rootCa = await eventually("kube-root-ca.crt", () =>
      core.readNamespacedConfigMap({ name: "kube-root-ca.crt", namespace: name }),
    );
    expect(rootCa.data?.["ca.crt"]).toBe(env.kube.caPem);
  });

  it("runs each controller as its own ServiceAccount in kube-system (--use-service-account-credentials)", async () => {
    const accounts = await eventually("the controllers' ServiceAccounts", async () => {
      const names = (await core.listNamespacedServiceAccount({ namespace: "kube-system" })).items.map(
        (account) => account.metadata?.name,
      );
      return ["generic-garbage-collector", "namespace-controller", "service-account-controller"].every((n) =>
        names.includes(n),
      )
        ? names
        : undefined;
    });
    expect(accounts).toContain("generic-garbage-collector");
  });

  it("deletes a JIT Secret once its Pod is gone (garbage collector), not before", async () => {
    const pod = await createStrict(env, gatedPodWithNativeSidecar(ns.name, "owner"));
    await createStrict(env, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "owner-jit",
        namespace: ns.name,
        ownerReferences: [
          { apiVersion: "v1", kind: "Pod", name: "owner", uid: pod.metadata!.uid!, controller: true },
        ],
      },
      stringData: { jitConfig: "placeholder" },
    });
    // An owner that still exists keeps its dependent (the collector has had time to look at it).
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await core.readNamespacedSecret({ name: "owner-jit", namespace: ns.name });
    // A Pod never bound goes at once, without a kubelet; then its Secret follows.
    await core.deleteNamespacedPod({ name: "owner", namespace: ns.name });
    await gone(
      "the orphaned Secret's deletion",
      () => core.readNamespacedSecret({ name: "owner-jit", namespace: ns.name }),
      30_000,
    );
  });

  it("empties and removes a deleted namespace (namespace controller)", async () => {
    const doomed = await createTestNamespace(env, "doomed");
    await core.createNamespacedConfigMap({
      namespace: doomed.name,
      body: { metadata: { name: "left-behind" }, data: { a: "b" } },
    });
    await core.deleteNamespace({ name: doomed.name });
    await gone("the namespace's removal", () => core.readNamespace({ name: doomed.name }), 60_000);
  });

  it("removes the namespaces a test file made when it ends (deleteTestNamespaces, run after every file)", async () => {
    const made = await createTestNamespace(env, "made-by-a-test");
    await core.createNamespacedSecret({ namespace: made.name, body: { metadata: { name: "s" } } });
    await deleteTestNamespaces();
    await gone("the test's namespace", () => core.readNamespace({ name: made.name }), 60_000);
  });
});

describe("kube-scheduler", () => {
  it("marks a Pod it cannot place Unschedulable, and leaves a gated Pod alone", async () => {
    const ns = await createTestNamespace(env, "scheduler", { podSecurity: "privileged" });
    const core = ns.kc.makeApiClient(CoreV1Api);
    const gated = await createStrict(env, gatedPodWithNativeSidecar(ns.name, "gated"));
    const tooBig = gatedPodWithNativeSidecar(ns.name, "too-big");
    tooBig.spec!.schedulingGates = [];
    tooBig.spec!.containers[0]!.resources = { requests: { cpu: "100000" } };
    await createStrict(env, tooBig);
    const condition = await eventually("the scheduler's verdict", async () => {
      const pod = await core.readNamespacedPod({ name: "too-big", namespace: ns.name });
      return pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
    });
    expect(condition.reason).toBe("Unschedulable");
    expect(condition.message).toMatch(
      new RegExp(`^0/${NODE_NAMES.length} nodes are available: ${NODE_NAMES.length} Insufficient cpu\\.`),
    );
    const stillGated = await core.readNamespacedPod({ name: "gated", namespace: ns.name });
    expect(stillGated.spec?.nodeName).toBeUndefined();
    expect(stillGated.status?.conditions?.find((c) => c.type === "PodScheduled")?.reason).toBe(
      "SchedulingGated",
    );
    expect(gated.metadata?.uid).toBe(stillGated.metadata?.uid);
  });
});

describe("kwok", () => {
  it("serves Nodes with real capacity, Ready", async () => {
    const core = adminKubeConfig(env).makeApiClient(CoreV1Api);
    const nodes = (await core.listNode()).items;
    expect(nodes.map((node) => node.metadata?.name).sort()).toEqual([...NODE_NAMES]);
    for (const node of nodes) {
      expect(node.status?.capacity).toEqual(NODE_CAPACITY);
      expect(node.status?.allocatable).toEqual(NODE_CAPACITY);
      expect(node.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      // The node lifecycle controller took the not-ready taint off; only kwok's own is left.
      expect(node.spec?.taints).toEqual([KWOK_TAINT]);
    }
  });

  it("renews each Node's Lease, so the node lifecycle controller never marks them NotReady", async () => {
    const leases = adminKubeConfig(env).makeApiClient(CoordinationV1Api);
    const renewed = (name: string) =>
      leases.readNamespacedLease({ name, namespace: "kube-node-lease" }).then((lease) => {
        expect(lease.spec?.leaseDurationSeconds).toBe(NODE_LEASE_SECONDS);
        return new Date(lease.spec?.renewTime ?? 0).getTime();
      });
    const first = await Promise.all(NODE_NAMES.map(renewed));
    // kwok renews a quarter of the way through the lease, as a kubelet does; the controller's grace period is 50 s.
    await eventually(
      "every Node's Lease renewed again",
      async () => (await Promise.all(NODE_NAMES.map(renewed))).every((at, i) => at > first[i]!),
      { timeoutMs: NODE_LEASE_SECONDS * 1000, intervalMs: 1000 },
    );
  }, 60_000);
});

describe("dockerd", () => {
  it("runs the imported busybox image", async () => {
    const result = await docker(env, [
      "run",
      "--rm",
      env.docker.busyboxImage,
      "sh",
      "-c",
      "echo hello from $(uname -s)",
    ]);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("hello from Linux");
    expect(result.code).toBe(0);
  });

  it("stores images on overlay2", async () => {
    const result = await docker(env, ["info", "--format", "{{.Driver}}"]);
    expect(result.stdout.trim()).toBe("overlay2");
  });
});

describe("helm", () => {
  it("runs the pinned version", async () => {
    const { stdout } = await execFileAsync(env.parts.helm, ["version", "--short"]);
    expect(stdout.trim()).toMatch(new RegExp(`^${HELM_VERSION.replaceAll(".", "\\.")}\\b`));
  });
});

describe("act", () => {
  it("runs the pinned version", async () => {
    const { stdout } = await execFileAsync(env.parts.act, ["--version"]);
    expect(stdout.trim()).toBe(`act version ${ACT_VERSION}`);
  });
});
