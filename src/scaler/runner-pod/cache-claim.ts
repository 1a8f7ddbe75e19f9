// The cache volume pool's objects, pure like the rest of runner-pod/: the claims a set keeps, and the runner Pod
// that uses one of them for its daemon's data root instead of the set's own storage.
import type { V1EnvVar, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import type { CacheConfig, RunnerSet } from "../config/schema.ts";
import { ANNOTATIONS, LABELS } from "../model/keys.ts";
import { quantityToBytes } from "../model/quantity.ts";
import { dataRootFor, STORAGE_VOLUME } from "./layout.ts";

/** app.kubernetes.io/component of the claims (runner Pods have "runner"). */
export const CACHE_COMPONENT = "docker-cache";

/** Startup probe tries (1 s apart) of a dind on a claim: 8 minutes for its check and prune. */
export const CACHE_STARTUP_PROBE_FAILURES = 480;

/** The share of the claim's size above which the next Pod prunes, when the set names no pruneAbove. */
export const DEFAULT_PRUNE_SHARE = 0.8;

export function cacheClaimName(setName: string, index: number): string {
  return `${setName}-cache-${index}`;
}

export function cacheClaimSelector(setName: string): string {
  return `${LABELS.managedBy}=dind-k8s,${LABELS.component}=${CACHE_COMPONENT},${LABELS.runnerSet}=${setName}`;
}

/** Bytes above which the Pod on a claim prunes before its daemon starts. */
export function pruneAboveBytes(cache: CacheConfig): number {
  return cache.pruneAbove !== undefined
    ? quantityToBytes(cache.pruneAbove)
    : Math.floor(quantityToBytes(cache.size) * DEFAULT_PRUNE_SHARE);
}

/**
 * Claim `index` of the set's pool. ReadWriteOncePod: the kubelet and scheduler themselves refuse a second Pod on
 * the volume (CSI volumes, Kubernetes ≥ 1.29), a second line behind the scaler's own leases.
 */
export function buildCacheClaim(set: RunnerSet, index: number, namespace: string): V1PersistentVolumeClaim {
  const cache = set.cache;
  if (!cache) throw new Error(`runner set ${set.name} has no cache`);
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: cacheClaimName(set.name, index),
      namespace,
      labels: {
        [LABELS.name]: "dind-k8s",
        [LABELS.component]: CACHE_COMPONENT,
        [LABELS.managedBy]: "dind-k8s",
        [LABELS.partOf]: "dind-k8s",
        [LABELS.runnerSet]: set.name,
        [LABELS.cacheIndex]: String(index),
      },
    },
    spec: {
      accessModes: ["ReadWriteOncePod"],
      ...(cache.storageClassName ? { storageClassName: cache.storageClassName } : {}),
      resources: { requests: { storage: cache.size } },
    },
  };
}

/** The claim a runner Pod's daemon data is on, if any. */
export function claimOf(pod: V1Pod): string | undefined {
  return pod.spec?.volumes?.find((volume) => volume.name === STORAGE_VOLUME)?.persistentVolumeClaim
    ?.claimName;
}

/** True when the claim was made for other settings than the set's now (size, class): recycle it when free. */
export function claimOutdated(claim: V1PersistentVolumeClaim, cache: CacheConfig): boolean {
  const requested = claim.spec?.resources?.requests?.storage;
  const sameSize =
    requested !== undefined && quantityToBytes(String(requested)) === quantityToBytes(cache.size);
  // A claim without a class got the cluster default; only an explicit class can be compared.
  const sameClass =
    cache.storageClassName === undefined || claim.spec?.storageClassName === cache.storageClassName;
  return !sameSize || !sameClass;
}

export interface CacheClaimUse {
  claim: string;
  /** The last Pod on the claim ended without stopping its daemon cleanly: check the data before use. */
  check: boolean;
  /** The claim holds data of another repository (or of unknown ones): empty it before use. */
  wipe?: boolean;
  /** The original's creation time (ISO), kept for first-come order. */
  queuedAt: string;
}

/**
 * `pod` (a gated runner Pod as built for its set, or as read back) as a new object of the same name whose daemon
 * keeps its data on `use.claim`. Everything else — labels, annotations, the gate — stays: only the volume, the
 * dind environment and server-set fields change. A Pod's volumes are immutable, hence a new object.
 */
export function withCacheClaim(pod: V1Pod, set: RunnerSet, use: CacheClaimUse): V1Pod {
  const cache = set.cache;
  if (!cache) throw new Error(`runner set ${set.name} has no cache`);
  const { metadata = {}, spec } = structuredClone(pod);
  if (!spec) throw new Error(`Pod ${metadata.name} has no spec`);
  const volumes = spec.volumes ?? [];
  const index = volumes.findIndex((volume) => volume.name === STORAGE_VOLUME);
  if (index < 0) throw new Error(`Pod ${metadata.name} has no ${STORAGE_VOLUME} volume to put on a claim`);
  volumes[index] = { name: STORAGE_VOLUME, persistentVolumeClaim: { claimName: use.claim } };
  const dind = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === "dind");
  if (!dind) throw new Error(`Pod ${metadata.name} has no dind container`);
  const env: V1EnvVar[] = [
    { name: "DIND_K8S_CACHE_VOLUME", value: "1" },
    { name: "DIND_K8S_DATA_ROOT", value: dataRootFor(set.runtime.profile) },
    { name: "DIND_K8S_CACHE_PRUNE_ABOVE", value: String(pruneAboveBytes(cache)) },
    ...(use.check ? [{ name: "DIND_K8S_CACHE_CHECK", value: "1" }] : []),
    ...(use.wipe ? [{ name: "DIND_K8S_CACHE_WIPE", value: "1" }] : []),
  ];
  const names = new Set(env.map((variable) => variable.name));
  dind.env = [...(dind.env ?? []).filter((variable) => !names.has(variable.name)), ...env];
  // A check or a large prune runs before the daemon answers the probe: give it minutes, but fewer than the
  // scaler's pending deadline (10 min), after which a Pod that isn't Running is replaced.
  if (dind.startupProbe) {
    dind.startupProbe = {
      ...dind.startupProbe,
      failureThreshold: Math.max(dind.startupProbe.failureThreshold ?? 0, CACHE_STARTUP_PROBE_FAILURES),
    };
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      labels: { ...metadata.labels, [LABELS.cacheClaim]: use.claim },
      annotations: { ...metadata.annotations, [ANNOTATIONS.queuedAt]: use.queuedAt },
      ...(metadata.ownerReferences ? { ownerReferences: metadata.ownerReferences } : {}),
    },
    spec,
  };
}

/** What the dind start script reports in its termination message on a cache volume. */
export interface CacheReport {
  dataBytes: number;
  clean: boolean;
}

/** The dind container's cache report, once it has terminated with one. */
export function cacheReportOf(pod: V1Pod): CacheReport | undefined {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const message = statuses.find((status) => status.name === "dind")?.state?.terminated?.message;
  if (!message) return undefined;
  try {
    const parsed = JSON.parse(message) as Partial<CacheReport>;
    if (typeof parsed.dataBytes !== "number" || typeof parsed.clean !== "boolean") return undefined;
    return { dataBytes: parsed.dataBytes, clean: parsed.clean };
  } catch {
    return undefined;
  }
}
