// (runner set, job) → the runner Pod and its JIT config Secret. Pure: no clock, no randomness, no I/O, so the
// same job always yields the same objects and tests need no cluster.
import type {
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1Pod,
  V1PodSecurityContext,
  V1ResourceRequirements,
  V1Secret,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import {
  DEFAULT_DIND_IMAGE,
  DEFAULT_DIND_ROOTLESS_IMAGE,
  DEFAULT_LOOP_DISK_SIZE,
  DEFAULT_RUNNER_HOME,
  DEFAULT_RUNTIME_CLASS,
} from "../config/defaults.ts";
import type { Resources, RunnerSet, Storage } from "../config/schema.ts";
import { ANNOTATIONS, LABELS, SCHEDULING_GATE } from "../model/keys.ts";
import { addQuantities, quantityToBytes } from "../model/quantity.ts";
import type { SidecarMode } from "../model/sidecar-mode.ts";
import type { RunnerTarget } from "../model/target.ts";
import { runnerPodName } from "./names.ts";
import { DIND_START_SCRIPT, RUNNER_LEGACY_SCRIPT } from "./scripts.ts";

export interface RunnerPodOptions {
  namespace: string;
  /** native: dind is an init container with restartPolicy Always (Kubernetes ≥ 1.29). */
  sidecars: SidecarMode;
  /** The runner's JIT config (base64 as GitHub returns it); a placeholder when only rendering. */
  jitConfig?: string;
  /** uid of the created Pod: makes the Secret owned by it, so deleting the Pod deletes the token. */
  podUid?: string;
}

export interface RunnerPodObjects {
  pod: V1Pod;
  secret: V1Secret;
}

export const JIT_CONFIG_KEY = "jitConfig";
export const JIT_CONFIG_PLACEHOLDER = "PLACEHOLDER-jit-config-created-when-the-scheduling-gate-is-released";

// The actions-runner image's layout (images/Dockerfile: WORKDIR /home/runner).
const RUNNER_HOME = DEFAULT_RUNNER_HOME;
const WORK_DIR = `${RUNNER_HOME}/_work`;
const EXTERNALS_DIR = `${RUNNER_HOME}/externals`;
const EXTERNALS_COPY_DIR = "/dind-k8s/externals";
const LIFECYCLE_DIR = "/dind-k8s/lifecycle";
const LOOP_DIR = "/dind-k8s/loop";

/** Where the daemon keeps its socket and data, per image variant (docker-library/docker dockerd-entrypoint.sh). */
interface DaemonLayout {
  socketDir: string;
  socketPath: string;
  dataRoot: string;
}
const ROOTFUL: DaemonLayout = {
  socketDir: "/var/run",
  socketPath: "/var/run/docker.sock",
  dataRoot: "/var/lib/docker",
};
// dind-rootless runs as uid 1000 ("rootless"): XDG_RUNTIME_DIR=/run/user/1000, data in ~/.local/share/docker.
const ROOTLESS_UID = 1000;
const ROOTLESS: DaemonLayout = {
  socketDir: `/run/user/${ROOTLESS_UID}`,
  socketPath: `/run/user/${ROOTLESS_UID}/docker.sock`,
  dataRoot: "/home/rootless/.local/share/docker",
};

/** The daemon's data root in the dind container of a runtime profile. */
export function dataRootFor(profile: RunnerSet["runtime"]["profile"]): string {
  return profile === "rootless" ? ROOTLESS.dataRoot : ROOTFUL.dataRoot;
}

const VOLUME = {
  work: "work",
  externals: "externals",
  socket: "dind-sock",
  storage: "dind-storage",
  loop: "dind-loop",
  lifecycle: "dind-k8s-lifecycle",
} as const;

/** The volume holding the daemon's data root (emptyDir, tmpfs, an ephemeral claim, or a cache claim). */
export const STORAGE_VOLUME = VOLUME.storage;

export function buildRunnerPod(
  set: RunnerSet,
  target: RunnerTarget,
  options: RunnerPodOptions,
): RunnerPodObjects {
  const name = runnerPodName(set.name, target);
  const profile = set.runtime.profile;
  const layout = profile === "rootless" ? ROOTLESS : ROOTFUL;
  const storage = effectiveStorage(set);
  const legacy = options.sidecars === "legacy";
  const dockerHost = `unix://${layout.socketPath}`;

  const labels: Record<string, string> = {
    ...set.podLabels,
    [LABELS.name]: "dind-k8s",
    [LABELS.component]: "runner",
    [LABELS.managedBy]: "dind-k8s",
    [LABELS.partOf]: "dind-k8s",
    [LABELS.runnerSet]: set.name,
    [LABELS.kind]: target.kind,
    ...(target.kind === "job"
      ? { [LABELS.jobId]: String(target.jobId), [LABELS.runAttempt]: String(target.runAttempt) }
      : {}),
  };
  const annotations: Record<string, string> = {
    ...set.podAnnotations,
    [ANNOTATIONS.runnerLabels]: set.labels.join(","),
    ...(target.kind === "job" && target.repository ? { [ANNOTATIONS.repository]: target.repository } : {}),
    ...(target.kind === "job" && target.runId !== undefined
      ? { [ANNOTATIONS.runId]: String(target.runId) }
      : {}),
    ...(target.kind === "job" && target.workflow ? { [ANNOTATIONS.workflow]: target.workflow } : {}),
  };

  // Fresh objects per container: callers may edit one container's mounts without touching the other's.
  const sharedMounts = (): V1VolumeMount[] => [
    { name: VOLUME.work, mountPath: WORK_DIR },
    { name: VOLUME.externals, mountPath: EXTERNALS_DIR },
    { name: VOLUME.socket, mountPath: layout.socketDir },
    ...(legacy ? [{ name: VOLUME.lifecycle, mountPath: LIFECYCLE_DIR }] : []),
  ];
  const stopFile = `${LIFECYCLE_DIR}/runner-exited`;

  const copyExternals: V1Container = {
    name: "init-externals",
    image: set.runner.image,
    ...pullPolicy(set.runner.imagePullPolicy),
    // The runner image's tools (node for JavaScript actions) must be visible to `container:` jobs, whose
    // containers dind starts: copy them to a volume both see at the same path.
    command: ["cp", "-r", `${EXTERNALS_DIR}/.`, `${EXTERNALS_COPY_DIR}/`],
    volumeMounts: [{ name: VOLUME.externals, mountPath: EXTERNALS_COPY_DIR }],
  };

  const dind = dindContainer(set, storage, layout, legacy ? stopFile : undefined);
  dind.volumeMounts = [...sharedMounts(), ...storageMounts(storage, layout)];

  const runnerEnv: V1EnvVar[] = [
    ...(set.runner.env ?? []),
    {
      name: "ACTIONS_RUNNER_INPUT_JITCONFIG",
      valueFrom: { secretKeyRef: { name, key: JIT_CONFIG_KEY } },
    },
    { name: "DOCKER_HOST", value: dockerHost },
    ...(legacy ? [{ name: "DIND_K8S_STOP_FILE", value: stopFile }] : []),
  ];
  const runner: V1Container = {
    name: "runner",
    image: set.runner.image,
    ...pullPolicy(set.runner.imagePullPolicy),
    command: legacy
      ? ["/bin/sh", "-c", RUNNER_LEGACY_SCRIPT, "runner", `${RUNNER_HOME}/run.sh`]
      : [`${RUNNER_HOME}/run.sh`],
    env: runnerEnv,
    ...resources(set.runner.resources),
    volumeMounts: sharedMounts(),
  };

  const volumes: V1Volume[] = [
    { name: VOLUME.work, emptyDir: {} },
    { name: VOLUME.externals, emptyDir: {} },
    { name: VOLUME.socket, emptyDir: {} },
    ...storageVolumes(storage, labels),
    ...(legacy ? [{ name: VOLUME.lifecycle, emptyDir: {} }] : []),
  ];

  const runtimeClassName =
    set.runtime.runtimeClassName ??
    (profile === "kata" || profile === "sysbox" ? DEFAULT_RUNTIME_CLASS[profile] : undefined);
  // Rootless dind runs with the runner's docker group as its gid, so the socket it creates is usable by the
  // runner; fsGroup makes a PVC root writable for it (emptyDirs already are).
  const podSecurityContext: V1PodSecurityContext | undefined =
    profile === "rootless" ? { fsGroup: set.runner.dockerGid } : undefined;

  const pod: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: options.namespace, labels, annotations },
    spec: {
      restartPolicy: "Never",
      // The runner and the jobs it runs have no business with the Kubernetes API.
      automountServiceAccountToken: false,
      // Service links would put every Service of the namespace into the job's environment.
      enableServiceLinks: false,
      schedulingGates: [{ name: SCHEDULING_GATE }],
      ...(set.serviceAccountName ? { serviceAccountName: set.serviceAccountName } : {}),
      ...(runtimeClassName ? { runtimeClassName } : {}),
      // sysbox maps the Pod's root to an unprivileged host uid; that is what makes a non-privileged dind safe.
      ...(profile === "sysbox" ? { hostUsers: false } : {}),
      ...(podSecurityContext ? { securityContext: podSecurityContext } : {}),
      ...(set.priorityClassName ? { priorityClassName: set.priorityClassName } : {}),
      ...(set.nodeSelector ? { nodeSelector: set.nodeSelector } : {}),
      ...(set.tolerations ? { tolerations: set.tolerations } : {}),
      // Affinity terms are checked only at the top level by the config schema; the apiserver validates the rest.
      ...(set.affinity ? { affinity: set.affinity as V1Affinity } : {}),
      ...(set.imagePullSecrets
        ? { imagePullSecrets: set.imagePullSecrets.map((secret) => ({ name: secret })) }
        : {}),
      initContainers: legacy ? [copyExternals] : [copyExternals, dind],
      containers: legacy ? [runner, dind] : [runner],
      volumes,
    },
  };

  return { pod, secret: buildJitSecret(pod, options.jitConfig ?? JIT_CONFIG_PLACEHOLDER, options.podUid) };
}

/** The Secret the runner reads its JIT config from; owned by the Pod when its uid is known. */
export function buildJitSecret(pod: V1Pod, jitConfig: string, podUid?: string): V1Secret {
  const name = pod.metadata?.name;
  if (!name) throw new Error("buildJitSecret: the Pod has no name");
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name,
      namespace: pod.metadata?.namespace,
      labels: { ...pod.metadata?.labels },
      ...(podUid
        ? {
            ownerReferences: [
              {
                apiVersion: "v1",
                kind: "Pod",
                name,
                uid: podUid,
                controller: false,
                blockOwnerDeletion: false,
              },
            ],
          }
        : {}),
    },
    stringData: { [JIT_CONFIG_KEY]: jitConfig },
  };
}

/** Storage when the set names none: emptyDir, or a loop disk under kata where emptyDir can't carry overlayfs. */
export function effectiveStorage(set: RunnerSet): Storage {
  if (set.storage) return set.storage;
  return set.runtime.profile === "kata"
    ? { type: "loopDisk", size: DEFAULT_LOOP_DISK_SIZE }
    : { type: "emptyDir" };
}

function dindContainer(
  set: RunnerSet,
  storage: Storage,
  layout: DaemonLayout,
  stopFile: string | undefined,
): V1Container {
  const profile = set.runtime.profile;
  const dockerdArgs = [
    "dockerd",
    `--host=unix://${layout.socketPath}`,
    // Rootless: the daemon runs as the rootless user with the runner's docker gid; --group can't name a group
    // inside its user namespace, and the socket already belongs to that gid.
    ...(profile === "rootless" ? [] : [`--group=${set.runner.dockerGid}`]),
    ...set.dind.registryMirrors.map((mirror) => `--registry-mirror=${mirror}`),
    ...set.dind.args,
  ];
  const env: V1EnvVar[] = [{ name: "DIND_K8S_MTU", value: String(set.dind.mtu) }];
  if (storage.type === "loopDisk") {
    env.push(
      { name: "DIND_K8S_LOOP_IMAGE", value: `${LOOP_DIR}/docker.img` },
      { name: "DIND_K8S_LOOP_BYTES", value: String(quantityToBytes(storage.size)) },
      { name: "DIND_K8S_DATA_ROOT", value: layout.dataRoot },
    );
  }
  if (stopFile) env.push({ name: "DIND_K8S_STOP_FILE", value: stopFile });

  const securityContext: V1SecurityContext =
    profile === "sysbox"
      ? {}
      : profile === "rootless"
        ? // The dind-rootless image still needs privileged for its user namespace and mounts (image docs).
          { privileged: true, runAsUser: ROOTLESS_UID, runAsGroup: set.runner.dockerGid }
        : { privileged: true };

  const container: V1Container = {
    name: "dind",
    image: set.dind.image ?? (profile === "rootless" ? DEFAULT_DIND_ROOTLESS_IMAGE : DEFAULT_DIND_IMAGE),
    ...pullPolicy(set.dind.imagePullPolicy),
    command: ["/bin/sh", "-c", DIND_START_SCRIPT, "dind"],
    args: dockerdArgs,
    env,
    securityContext,
    // The runner starts only once the daemon answers on its socket (native sidecars gate on this probe).
    startupProbe: {
      exec: { command: ["docker", `--host=unix://${layout.socketPath}`, "version"] },
      periodSeconds: 1,
      timeoutSeconds: 5,
      failureThreshold: 180,
    },
    ...resources(memoryForTmpfs(set.dind.resources, storage)),
  };
  if (!stopFile) container.restartPolicy = "Always";
  return container;
}

/** tmpfs pages are charged to the writer's memory cgroup: grow dind's request (and limit, if set) by its size. */
function memoryForTmpfs(base: Resources | undefined, storage: Storage): Resources | undefined {
  if (storage.type !== "memory") return base;
  const size = storage.sizeLimit;
  const requests = { ...base?.requests };
  requests.memory = requests.memory ? addQuantities(requests.memory, size) : size;
  const limits = base?.limits ? { ...base.limits } : undefined;
  if (limits?.memory) limits.memory = addQuantities(limits.memory, size);
  return { requests, ...(limits ? { limits } : {}) };
}

function storageVolumes(storage: Storage, labels: Record<string, string>): V1Volume[] {
  switch (storage.type) {
    case "emptyDir":
      return [{ name: VOLUME.storage, emptyDir: storage.sizeLimit ? { sizeLimit: storage.sizeLimit } : {} }];
    case "memory":
      return [{ name: VOLUME.storage, emptyDir: { medium: "Memory", sizeLimit: storage.sizeLimit } }];
    case "ephemeralVolume":
      return [
        {
          name: VOLUME.storage,
          ephemeral: {
            volumeClaimTemplate: {
              metadata: { labels: { ...labels } },
              spec: {
                accessModes: ["ReadWriteOnce"],
                ...(storage.storageClassName ? { storageClassName: storage.storageClassName } : {}),
                resources: { requests: { storage: storage.size } },
              },
            },
          },
        },
      ];
    case "loopDisk":
      // The image file is sparse: the volume only holds what the daemon writes, at most `size`.
      return [{ name: VOLUME.loop, emptyDir: { sizeLimit: storage.size } }];
  }
}

function storageMounts(storage: Storage, layout: DaemonLayout): V1VolumeMount[] {
  if (storage.type === "loopDisk") return [{ name: VOLUME.loop, mountPath: LOOP_DIR }];
  return [{ name: VOLUME.storage, mountPath: layout.dataRoot }];
}

function resources(value: Resources | undefined): { resources?: V1ResourceRequirements } {
  if (!value || (!value.requests && !value.limits)) return {};
  return {
    resources: {
      ...(value.requests ? { requests: value.requests } : {}),
      ...(value.limits ? { limits: value.limits } : {}),
    },
  };
}

function pullPolicy(policy: string | undefined): { imagePullPolicy?: string } {
  return policy ? { imagePullPolicy: policy } : {};
}
