// (runner set, job) → the runner Pod and its JIT config Secret. Pure: no clock, no randomness, no I/O, so the
// same job always yields the same objects and tests need no cluster.
import type {
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1Pod,
  V1Secret,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { DEFAULT_RUNTIME_CLASS } from "../config/defaults.ts";
import type { RunnerSet } from "../config/schema.ts";
import { ANNOTATIONS, LABELS, SCHEDULING_GATE } from "../model/keys.ts";
import type { SidecarMode } from "../model/sidecar-mode.ts";
import type { RunnerTarget } from "../model/target.ts";
import { dindContainer, pullPolicy } from "./dind-container.ts";
import {
  daemonLayoutFor,
  EXTERNALS_COPY_DIR,
  EXTERNALS_DIR,
  LIFECYCLE_DIR,
  RUNNER_HOME,
  VOLUME,
  WORK_DIR,
} from "./layout.ts";
import { runnerPodName } from "./names.ts";
import { initResources, runnerResources } from "./resources.ts";
import { RUNNER_LEGACY_SCRIPT } from "./scripts.ts";
import {
  assertDaemonOnSocket,
  initSecurityContext,
  podSecurityContext,
  runnerSecurityContext,
} from "./security.ts";
import { SPEC_HASH_TARGET, specHash } from "./spec-hash.ts";
import { effectiveStorage, storageMounts, storageVolumes } from "./storage.ts";
import { mergeTemplate } from "./template.ts";

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

/** On every runner Pod and its Secret: the NetworkPolicy and the admission policy select them by these. */
const RUNNER_LABELS = {
  [LABELS.name]: "dind-k8s",
  [LABELS.component]: "runner",
  [LABELS.managedBy]: "dind-k8s",
  [LABELS.partOf]: "dind-k8s",
} as const;

/** The Pod and Secret of `target`, the Pod stamped with its set's spec hash (spec-hash.ts). */
export function buildRunnerPod(
  set: RunnerSet,
  target: RunnerTarget,
  options: RunnerPodOptions,
): RunnerPodObjects {
  const objects = buildUnstamped(set, target, options);
  const key = `${options.namespace}/${options.sidecars}`;
  const hash = specHash(set, key, () => buildUnstamped(set, SPEC_HASH_TARGET, options).pod);
  objects.pod.metadata!.annotations![ANNOTATIONS.specHash] = hash;
  return objects;
}

function buildUnstamped(set: RunnerSet, target: RunnerTarget, options: RunnerPodOptions): RunnerPodObjects {
  const name = runnerPodName(set.name, target);
  const profile = set.runtime.profile;
  const layout = daemonLayoutFor(profile);
  const storage = effectiveStorage(set);
  const legacy = options.sidecars === "legacy";
  const dockerHost = `unix://${layout.socketPath}`;

  const labels: Record<string, string> = {
    ...set.podLabels,
    ...RUNNER_LABELS,
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
    resources: initResources(),
    securityContext: initSecurityContext(set),
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
    resources: runnerResources(set),
    securityContext: runnerSecurityContext(set),
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
  const securityContext = podSecurityContext(set);

  const built: V1Pod = {
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
      ...(securityContext ? { securityContext } : {}),
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

  // The set's own Pod template, completed with the above (template.ts has the precedence).
  const pod = mergeTemplate(built, set.template);
  assertDaemonOnSocket(pod, layout.socketPath);
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
      // A Pod read back from the scaler's cache keeps only dind-k8s.io/ labels: the fixed ones are set again.
      labels: { ...pod.metadata?.labels, ...RUNNER_LABELS },
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
