import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { DEFAULT_DIND_IMAGE, DEFAULT_DIND_ROOTLESS_IMAGE } from "../../../src/scaler/config/defaults.ts";
import type { RunnerSet } from "../../../src/scaler/config/load.ts";
import { LABELS, SCHEDULING_GATE } from "../../../src/scaler/model/keys.ts";
import type { RunnerTarget } from "../../../src/scaler/model/target.ts";
import {
  buildJitSecret,
  buildRunnerPod,
  JIT_CONFIG_KEY,
  JIT_CONFIG_PLACEHOLDER,
  type RunnerPodOptions,
} from "../../../src/scaler/runner-pod/build-runner-pod.ts";
import { containerNamed, profileSet as set } from "../../helpers/profiles.ts";

const job: RunnerTarget = {
  kind: "job",
  jobId: 4242,
  runAttempt: 2,
  runId: 99,
  repository: "o/r",
  workflow: "CI",
};
const native: RunnerPodOptions = { namespace: "runners", sidecars: "native" };
const legacy: RunnerPodOptions = { namespace: "runners", sidecars: "legacy" };

function containers(pod: V1Pod) {
  return {
    dind: containerNamed(pod, "dind"),
    runner: containerNamed(pod, "runner"),
    externals: containerNamed(pod, "init-externals"),
  };
}
const envOf = (c: V1Container) =>
  Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
const mountsOf = (c: V1Container) =>
  Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
const volume = (pod: V1Pod, name: string) => pod.spec?.volumes?.find((v) => v.name === name);

describe("the default profile (privileged dind, emptyDir, native sidecar)", () => {
  const { pod, secret } = buildRunnerPod(set("default"), job, native);
  const { dind, runner, externals } = containers(pod);

  it("is named after the set, job and attempt, in the configured namespace", () => {
    expect(pod.metadata?.name).toBe("default-4242-2");
    expect(pod.metadata?.namespace).toBe("runners");
  });

  it("carries the standard labels and the set, job and attempt", () => {
    expect(pod.metadata?.labels).toEqual({
      "app.kubernetes.io/name": "dind-k8s",
      "app.kubernetes.io/component": "runner",
      "app.kubernetes.io/managed-by": "dind-k8s",
      "app.kubernetes.io/part-of": "dind-k8s",
      "dind-k8s.io/runner-set": "default",
      "dind-k8s.io/kind": "job",
      "dind-k8s.io/job-id": "4242",
      "dind-k8s.io/run-attempt": "2",
    });
    expect(pod.metadata?.annotations).toEqual({
      "dind-k8s.io/runner-labels": "dind-k8s",
      "dind-k8s.io/repository": "o/r",
      "dind-k8s.io/run-id": "99",
      "dind-k8s.io/workflow": "CI",
      "dind-k8s.io/spec-hash": expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it("is gated, never restarted, without a service account token or service links", () => {
    expect(pod.spec?.schedulingGates).toEqual([{ name: SCHEDULING_GATE }]);
    // The gate's name is how a newer scaler finds the Pods an older one created: it must not change.
    expect(SCHEDULING_GATE).toBe("dind-k8s.io/jit-config");
    expect(pod.spec?.restartPolicy).toBe("Never");
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    expect(pod.spec?.enableServiceLinks).toBe(false);
    expect(pod.spec?.serviceAccountName).toBeUndefined();
    expect(pod.spec?.runtimeClassName).toBeUndefined();
    expect(pod.spec?.hostUsers).toBeUndefined();
    // fsGroup is only for the rootless daemon: elsewhere it would chown every volume for nothing.
    expect(pod.spec?.securityContext).toEqual({ seccompProfile: { type: "RuntimeDefault" } });
  });

  it("copies externals first, then starts dind as a native sidecar, and runs only the runner as a container", () => {
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(["init-externals", "dind"]);
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(["runner"]);
    expect(externals.command).toEqual(["cp", "-r", "/home/runner/externals/.", "/dind-k8s/externals/"]);
    expect(externals.image).toBe(runner.image);
    expect(dind.restartPolicy).toBe("Always");
  });

  it("starts dockerd on the unix socket only, with the runner's docker group, privileged", () => {
    expect(dind.image).toBe(DEFAULT_DIND_IMAGE);
    expect(dind.command?.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(dind.command?.[3]).toBe("dind");
    expect(dind.args).toEqual(["dockerd", "--host=unix:///var/run/docker.sock", "--group=123"]);
    expect(dind.args?.some((a) => a.includes("tcp://"))).toBe(false);
    expect(dind.securityContext).toEqual({ privileged: true });
    // Strict: a stop-file variable without a value would make the start script wait for a file forever.
    expect(envOf(dind)).toStrictEqual({ DIND_K8S_MTU: "auto" });
  });

  it("holds the runner back until the daemon answers on its socket", () => {
    expect(dind.startupProbe?.exec?.command).toEqual([
      "docker",
      "--host=unix:///var/run/docker.sock",
      "version",
    ]);
    expect(dind.startupProbe?.periodSeconds).toBe(1);
    expect(
      (dind.startupProbe?.failureThreshold ?? 0) * (dind.startupProbe?.periodSeconds ?? 0),
    ).toBeGreaterThan(60);
  });

  it("gives the runner its JIT config from the Secret and the daemon's socket", () => {
    expect(runner.command).toEqual(["/home/runner/run.sh"]);
    expect(runner.env).toHaveLength(2);
    expect(envOf(runner)).toEqual({
      ACTIONS_RUNNER_INPUT_JITCONFIG: { secretKeyRef: { name: "default-4242-2", key: JIT_CONFIG_KEY } },
      DOCKER_HOST: "unix:///var/run/docker.sock",
    });
  });

  it("mounts _work, externals and the socket dir at the same paths in runner and dind", () => {
    const shared = {
      "/home/runner/_work": "work",
      "/home/runner/externals": "externals",
      "/var/run": "dind-sock",
    };
    // Strict, and counted: a mount too many (the legacy lifecycle volume) is an invalid Pod in native mode.
    expect(runner.volumeMounts).toHaveLength(3);
    expect(dind.volumeMounts).toHaveLength(4);
    expect(mountsOf(runner)).toStrictEqual(shared);
    expect(mountsOf(dind)).toStrictEqual({ ...shared, "/var/lib/docker": "dind-storage" });
    expect(mountsOf(externals)).toEqual({ "/dind-k8s/externals": "externals" });
    expect(pod.spec?.volumes).toEqual([
      { name: "work", emptyDir: {} },
      { name: "externals", emptyDir: {} },
      { name: "dind-sock", emptyDir: {} },
      { name: "dind-storage", emptyDir: { sizeLimit: "40Gi" } },
    ]);
  });

  it("comes with a Secret of the same name holding a placeholder JIT config", () => {
    expect(secret.metadata?.name).toBe(pod.metadata?.name);
    expect(secret.metadata?.namespace).toBe("runners");
    expect(secret.metadata?.labels).toEqual(pod.metadata?.labels);
    expect(secret.stringData).toEqual({ [JIT_CONFIG_KEY]: JIT_CONFIG_PLACEHOLDER });
    expect(secret.metadata?.ownerReferences).toBeUndefined();
  });

  it("is owned by the Pod once the Pod's uid is known, and carries the real JIT config", () => {
    const owned = buildRunnerPod(set("default"), job, { ...native, podUid: "u-1", jitConfig: "abc" }).secret;
    expect(owned.metadata?.ownerReferences).toEqual([
      {
        apiVersion: "v1",
        kind: "Pod",
        name: "default-4242-2",
        uid: "u-1",
        controller: false,
        blockOwnerDeletion: false,
      },
    ]);
    expect(owned.stringData).toEqual({ jitConfig: "abc" });
  });

  it("is the same object for the same input (a duplicate delivery makes the same Pod)", () => {
    expect(buildRunnerPod(set("default"), job, native)).toEqual(buildRunnerPod(set("default"), job, native));
  });
});

describe("legacy sidecar mode (Kubernetes < 1.29)", () => {
  const { pod } = buildRunnerPod(set("default"), job, legacy);
  const { dind, runner } = containers(pod);

  it("runs dind as a plain container next to the runner", () => {
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(["init-externals"]);
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(["runner", "dind"]);
    expect(dind.restartPolicy).toBeUndefined();
  });

  it("lets the runner tell dind to stop through a shared file, so the Pod can complete", () => {
    const stopFile = "/dind-k8s/lifecycle/runner-exited";
    expect(envOf(dind).DIND_K8S_STOP_FILE).toBe(stopFile);
    expect(envOf(runner).DIND_K8S_STOP_FILE).toBe(stopFile);
    expect(mountsOf(dind)["/dind-k8s/lifecycle"]).toBe("dind-k8s-lifecycle");
    expect(mountsOf(runner)["/dind-k8s/lifecycle"]).toBe("dind-k8s-lifecycle");
    expect(volume(pod, "dind-k8s-lifecycle")).toEqual({ name: "dind-k8s-lifecycle", emptyDir: {} });
    expect(runner.command?.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(runner.command?.[2]).toContain('touch "$DIND_K8S_STOP_FILE"');
    expect(runner.command?.slice(3)).toEqual(["runner", "/home/runner/run.sh"]);
  });

  it("keeps the same dockerd command line as native mode", () => {
    expect(dind.args).toEqual(containers(buildRunnerPod(set("default"), job, native).pod).dind.args);
  });
});

describe("storage profiles", () => {
  it.each([
    [
      "default",
      { "/var/lib/docker": "dind-storage" },
      { name: "dind-storage", emptyDir: { sizeLimit: "40Gi" } },
    ],
    [
      "everything",
      { "/var/lib/docker": "dind-storage" },
      { name: "dind-storage", emptyDir: { sizeLimit: "50Gi" } },
    ],
    [
      "memory",
      { "/var/lib/docker": "dind-storage" },
      { name: "dind-storage", emptyDir: { medium: "Memory", sizeLimit: "8Gi" } },
    ],
    [
      "ephemeral",
      { "/var/lib/docker": "dind-storage" },
      {
        name: "dind-storage",
        ephemeral: {
          volumeClaimTemplate: {
            metadata: { labels: expect.objectContaining({ [LABELS.runnerSet]: "ephemeral" }) },
            spec: {
              accessModes: ["ReadWriteOnce"],
              storageClassName: "fast-ssd",
              resources: { requests: { storage: "100Gi" } },
            },
          },
        },
      },
    ],
    ["loop", { "/dind-k8s/loop": "dind-loop" }, { name: "dind-loop", emptyDir: { sizeLimit: "30Gi" } }],
  ])("%s", (name, mounts, storageVolume) => {
    const { pod } = buildRunnerPod(set(name), job, native);
    const { dind } = containers(pod);
    const { "/home/runner/_work": _w, "/home/runner/externals": _e, "/var/run": _s, ...own } = mountsOf(dind);
    expect(own).toEqual(mounts);
    expect(pod.spec?.volumes?.at(-1)).toEqual(storageVolume);
  });

  it("memory: the tmpfs size is added to dind's memory request and limit", () => {
    const { dind } = containers(buildRunnerPod(set("memory"), job, native).pod);
    expect(dind.resources).toEqual({
      requests: { cpu: "250m", memory: "8704Mi", "ephemeral-storage": "5Gi" },
      limits: { memory: "10240Mi", "ephemeral-storage": "10Gi" },
    });
  });

  it("loopDisk: dind gets the image path, its size in bytes and the data root to mount it on", () => {
    const { dind } = containers(buildRunnerPod(set("loop"), job, native).pod);
    expect(envOf(dind)).toEqual({
      DIND_K8S_MTU: "auto",
      DIND_K8S_LOOP_IMAGE: "/dind-k8s/loop/docker.img",
      DIND_K8S_LOOP_BYTES: String(30 * 2 ** 30),
      DIND_K8S_DATA_ROOT: "/var/lib/docker",
    });
    expect(dind.securityContext?.privileged).toBe(true);
  });
});

describe("runtime profiles", () => {
  it("kata: its RuntimeClass, privileged inside the VM, a loop disk by default", () => {
    const { pod } = buildRunnerPod(set("kata"), job, native);
    const { dind } = containers(pod);
    expect(pod.spec?.runtimeClassName).toBe("kata");
    expect(dind.securityContext).toEqual({ privileged: true });
    expect(envOf(dind).DIND_K8S_LOOP_IMAGE).toBe("/dind-k8s/loop/docker.img");
    expect(volume(pod, "dind-storage")).toBeUndefined();
  });

  it("sysbox: sysbox-runc, a user namespace (hostUsers: false) and a dind that isn't privileged", () => {
    const { pod } = buildRunnerPod(set("sysbox"), job, native);
    const { dind } = containers(pod);
    expect(pod.spec?.runtimeClassName).toBe("sysbox-runc");
    expect(pod.spec?.hostUsers).toBe(false);
    expect(dind.securityContext).toEqual({});
    expect(dind.args).toEqual(["dockerd", "--host=unix:///var/run/docker.sock", "--group=123"]);
  });

  it("rootless: the dind-rootless image, its socket and data paths, the runner's gid", () => {
    const { pod } = buildRunnerPod(set("rootless"), job, native);
    const { dind, runner } = containers(pod);
    expect(dind.image).toBe(DEFAULT_DIND_ROOTLESS_IMAGE);
    expect(dind.args).toEqual(["dockerd", "--host=unix:///run/user/1000/docker.sock"]);
    expect(dind.securityContext).toEqual({ privileged: true, runAsUser: 1000, runAsGroup: 123 });
    expect(dind.startupProbe?.exec?.command).toEqual([
      "docker",
      "--host=unix:///run/user/1000/docker.sock",
      "version",
    ]);
    expect(envOf(runner).DOCKER_HOST).toBe("unix:///run/user/1000/docker.sock");
    expect(mountsOf(runner)["/run/user/1000"]).toBe("dind-sock");
    expect(mountsOf(dind)["/run/user/1000"]).toBe("dind-sock");
    expect(mountsOf(dind)["/home/rootless/.local/share/docker"]).toBe("dind-storage");
    expect(pod.spec?.securityContext).toEqual({ seccompProfile: { type: "RuntimeDefault" }, fsGroup: 123 });
  });

  it("an explicit runtimeClassName wins over the profile's default", () => {
    const custom = { ...set("kata"), runtime: { profile: "kata" as const, runtimeClassName: "kata-qemu" } };
    expect(buildRunnerPod(custom, job, native).pod.spec?.runtimeClassName).toBe("kata-qemu");
  });
});

describe("options of a runner set (the 'everything' set)", () => {
  const { pod } = buildRunnerPod(set("everything"), job, native);
  const { dind, runner } = containers(pod);

  it("images, pull policies and resources", () => {
    expect(runner.image).toBe("ghcr.io/actions/actions-runner:2.336.0");
    expect(runner.imagePullPolicy).toBe("IfNotPresent");
    // What the set gives, completed with the defaults it doesn't name (ephemeral-storage).
    expect(runner.resources).toEqual({
      requests: { cpu: "1", memory: "2Gi", "ephemeral-storage": "1Gi" },
      limits: { memory: "4Gi", "ephemeral-storage": "20Gi" },
    });
    expect(dind.image).toBe("docker:29.7.2-dind");
    expect(dind.imagePullPolicy).toBe("Always");
    // Its emptyDir's 50Gi are charged to the Pod's ephemeral-storage: dind's limit has room for them.
    expect(dind.resources).toEqual({
      requests: { cpu: "500m", memory: "1Gi", "ephemeral-storage": "5Gi" },
      limits: { memory: "8Gi", "ephemeral-storage": "61440Mi" },
    });
  });

  it("registry mirrors and extra args go to dockerd, after dind-k8s's own", () => {
    expect(dind.args).toEqual([
      "dockerd",
      "--host=unix:///var/run/docker.sock",
      "--group=123",
      "--registry-mirror=https://mirror.gcr.io",
      "--registry-mirror=http://registry-mirror.infra:5000",
      "--log-level=warn",
    ]);
  });

  it("a fixed MTU", () => {
    expect(envOf(dind).DIND_K8S_MTU).toBe("1400");
  });

  it("extra runner env comes before dind-k8s's own", () => {
    expect(runner.env?.map((e) => e.name)).toEqual([
      "RUNNER_DEBUG",
      "ACTIONS_RUNNER_INPUT_JITCONFIG",
      "DOCKER_HOST",
    ]);
  });

  it("scheduling: nodeSelector, tolerations, affinity, priority class", () => {
    expect(pod.spec?.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(pod.spec?.tolerations).toEqual([
      { key: "dedicated", operator: "Equal", value: "ci", effect: "NoSchedule" },
    ]);
    expect(
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    ).toEqual([{ matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] }]);
    expect(pod.spec?.priorityClassName).toBe("ci-runners");
  });

  it("service account (still without a token) and image pull secrets", () => {
    expect(pod.spec?.serviceAccountName).toBe("ci-runner");
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: "ghcr-pull" }]);
  });

  it("extra labels and annotations, which can't replace dind-k8s's own", () => {
    expect(pod.metadata?.labels?.team).toBe("platform");
    expect(pod.metadata?.annotations?.["cluster-autoscaler.kubernetes.io/safe-to-evict"]).toBe("false");
    const hijack = {
      ...set("everything"),
      podLabels: { [LABELS.runnerSet]: "other", [LABELS.managedBy]: "me" },
    };
    const labels = buildRunnerPod(hijack, job, native).pod.metadata?.labels;
    expect(labels?.[LABELS.runnerSet]).toBe("everything");
    expect(labels?.[LABELS.managedBy]).toBe("dind-k8s");
  });
});

describe("warm runners", () => {
  it("are named <set>-warm-<id>, labelled warm, without job labels", () => {
    const { pod } = buildRunnerPod(set("default"), { kind: "warm", id: "k3x9" }, native);
    expect(pod.metadata?.name).toBe("default-warm-k3x9");
    expect(pod.metadata?.labels?.[LABELS.kind]).toBe("warm");
    expect(pod.metadata?.labels?.[LABELS.jobId]).toBeUndefined();
  });

  it("carry no job annotations, not even empty ones (the apiserver refuses a null annotation)", () => {
    const { pod } = buildRunnerPod(set("everything"), { kind: "warm", id: "k3x9" }, native);
    expect(pod.metadata?.annotations).toStrictEqual({
      "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
      "dind-k8s.io/runner-labels": "dind-k8s,everything",
      "dind-k8s.io/spec-hash": expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });
});

describe("a job without run id, repository or workflow (a redelivered or hand-made target)", () => {
  it("gets only the annotations it has values for", () => {
    const { pod } = buildRunnerPod(set("default"), { kind: "job", jobId: 1, runAttempt: 1 }, native);
    expect(pod.metadata?.annotations).toStrictEqual({
      "dind-k8s.io/runner-labels": "dind-k8s",
      "dind-k8s.io/spec-hash": expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });
});

describe("resources", () => {
  const withResources = (runner: RunnerSet["runner"]["resources"], dind: RunnerSet["dind"]["resources"]) => {
    const base = set("default");
    return containers(
      buildRunnerPod(
        { ...base, runner: { ...base.runner, resources: runner }, dind: { ...base.dind, resources: dind } },
        job,
        native,
      ).pod,
    );
  };

  it("what a set names is kept; every resource name it doesn't gets the default", () => {
    const { runner, dind } = withResources({ requests: { cpu: "1" } }, { limits: { memory: "1Gi" } });
    expect(runner.resources).toStrictEqual({
      requests: { cpu: "1", memory: "512Mi", "ephemeral-storage": "1Gi" },
      limits: { memory: "4Gi", "ephemeral-storage": "20Gi" },
    });
    expect(dind.resources).toStrictEqual({
      requests: { cpu: "250m", memory: "512Mi", "ephemeral-storage": "5Gi" },
      limits: { memory: "1Gi", "ephemeral-storage": "51200Mi" },
    });
  });

  it("an empty resources mapping gets every default", () => {
    const { runner } = withResources({}, {});
    expect(runner.resources).toStrictEqual(withResources(undefined, undefined).runner.resources);
  });

  it("a default never contradicts the set: a request above its limit, a limit below its request", () => {
    const { runner, dind } = withResources(
      { limits: { cpu: "100m", memory: "256Mi" } },
      { requests: { memory: "16Gi", "ephemeral-storage": "100Gi" } },
    );
    // The defaults (cpu 250m, memory 512Mi) would exceed the set's limits: they become those limits.
    expect(runner.resources?.requests).toMatchObject({ cpu: "100m", memory: "256Mi" });
    // The default limits (memory 8Gi, ephemeral-storage 50Gi) would be below the set's requests.
    expect(dind.resources?.limits).toMatchObject({ memory: "16Gi", "ephemeral-storage": "100Gi" });
  });

  describe("tmpfs storage is charged to dind's memory", () => {
    const onMemory = (resources: RunnerSet["dind"]["resources"]) => {
      const base = set("memory");
      return containers(buildRunnerPod({ ...base, dind: { ...base.dind, resources } }, job, native).pod).dind
        .resources;
    };

    it("with no resources of its own, dind's default memory request and limit grow by the tmpfs size", () => {
      expect(onMemory(undefined)).toStrictEqual({
        requests: { cpu: "250m", memory: "8704Mi", "ephemeral-storage": "5Gi" },
        limits: { memory: "16384Mi", "ephemeral-storage": "10Gi" },
      });
    });

    it("the set's own requests and limits are kept and grown the same way", () => {
      expect(onMemory({ requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "2" } })).toStrictEqual({
        requests: { cpu: "1", memory: "9216Mi", "ephemeral-storage": "5Gi" },
        limits: { cpu: "2", memory: "16384Mi", "ephemeral-storage": "10Gi" },
      });
    });
  });
});

describe("buildJitSecret for a Pod read back from the cluster", () => {
  it("has the Pod's name, namespace and labels", () => {
    const secret = buildJitSecret(
      { metadata: { name: "p", namespace: "n", labels: { a: "b" } } },
      "jit",
      "uid-1",
    );
    expect(secret.metadata).toMatchObject({ name: "p", namespace: "n", labels: { a: "b" } });
    expect(secret.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "Pod", name: "p", uid: "uid-1" });
  });

  it.each([{}, { metadata: {} }])(
    "refuses a Pod without a name (%o): the Secret's name must be the Pod's",
    (pod) => {
      expect(() => buildJitSecret(pod, "jit")).toThrow("buildJitSecret: the Pod has no name");
    },
  );
});
