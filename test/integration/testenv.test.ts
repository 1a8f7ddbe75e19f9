// Smoke tests of the integration test environment itself: every part is real and behaves as the
// other tests rely on (strict validation, scheduling gates, native sidecars, RBAC, the kubelet,
// scheduler and garbage-collector stand-ins, dockerd, helm).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ACT_VERSION, HELM_VERSION, KUBERNETES_VERSION } from "../env/versions.ts";
import { docker } from "../helpers/docker.ts";
import {
  apiStatus,
  collectGarbage,
  createStrict,
  createTestNamespace,
  finalizeTerminatingPods,
  restrictedKubeConfig,
  schedulePod,
  setPodPhase,
  type TestNamespace,
} from "../helpers/kube.ts";

const execFileAsync = promisify(execFile);
const env = inject("testenv");

function gatedPodWithNativeSidecar(namespace: string, name: string): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      schedulingGates: [{ name: "dind-k8s.io/runner" }],
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

  it("takes a gated Pod with a native sidecar through Pending → Running → Succeeded", async () => {
    const core = ns.kc.makeApiClient(CoreV1Api);
    const created = await createStrict(env, gatedPodWithNativeSidecar(ns.name, "runner-1"));
    expect(created.spec?.initContainers?.[0]?.restartPolicy).toBe("Always");
    expect(created.spec?.schedulingGates).toEqual([{ name: "dind-k8s.io/runner" }]);

    // The apiserver itself refuses to bind a gated Pod: the gate really holds it.
    await expect(schedulePod(ns.kc, ns.name, "runner-1")).rejects.toSatisfy(
      (error) => apiStatus(error) === 409,
    );

    const pending = await setPodPhase(ns.kc, ns.name, "runner-1", "Pending");
    expect(pending.status?.conditions?.find((c) => c.type === "PodScheduled")?.reason).toBe("Unschedulable");

    const current = await core.readNamespacedPod({ name: "runner-1", namespace: ns.name });
    current.spec!.schedulingGates = [];
    await core.replaceNamespacedPod({ name: "runner-1", namespace: ns.name, body: current });
    await schedulePod(ns.kc, ns.name, "runner-1");

    const running = await setPodPhase(ns.kc, ns.name, "runner-1", "Running");
    expect(running.spec?.nodeName).toBe("test-node-1");
    expect(running.status?.phase).toBe("Running");
    expect(running.status?.initContainerStatuses?.[0]).toMatchObject({
      name: "dind",
      ready: true,
      started: true,
    });

    const done = await setPodPhase(ns.kc, ns.name, "runner-1", "Succeeded", { exitCode: 0 });
    expect(done.status?.phase).toBe("Succeeded");
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
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

  it("finishes a bound Pod's deletion and collects the Secret it owned", async () => {
    const core = ns.kc.makeApiClient(CoreV1Api);
    const pod = gatedPodWithNativeSidecar(ns.name, "runner-2");
    pod.spec!.schedulingGates = [];
    const created = await createStrict(env, pod);
    await schedulePod(ns.kc, ns.name, "runner-2");
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

    await core.deleteNamespacedPod({ name: "runner-2", namespace: ns.name });
    // Bound: it waits for its kubelet, and its Secret stays.
    const terminating = await core.readNamespacedPod({ name: "runner-2", namespace: ns.name });
    expect(terminating.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    expect(terminating.metadata?.deletionGracePeriodSeconds).toBe(30);
    expect(await collectGarbage(ns.kc, ns.name)).toBe(0);

    expect(await finalizeTerminatingPods(ns.kc, ns.name)).toBe(1);
    expect(await collectGarbage(ns.kc, ns.name)).toBe(1);
    await expect(core.readNamespacedSecret({ name: "runner-2-jit", namespace: ns.name })).rejects.toSatisfy(
      (error) => apiStatus(error) === 404,
    );
  });
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
