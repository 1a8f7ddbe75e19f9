// A runner Pod cut down to what the scaler reads — our own labels and annotations, the runner's and dind's
// container states, the PodScheduled condition — with equal values shared across Pods and frozen, so 10,000
// cached Pods cost ~1 KB each instead of ~10 KB of JSON.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { KEY_PREFIX } from "../model/keys.ts";

/** Labels and annotations the scaler writes and reads; others (selectors, ones users add) are not kept. */
const OWN_KEY = `${KEY_PREFIX}/`;

/**
 * One copy of each distinct value, so equal values across thousands of Pods are shared: JSON.parse gives every
 * Pod its own. Bounded (it starts over when full), so unique values (uids, job ids) can't grow it without end.
 */
class Canonical<T> {
  readonly #known = new Map<string, T>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The value kept for `key`, or `value` (passed through `keep` first) when there is none yet. */
  of(key: string, value: T, keep?: (value: T) => void): T {
    const known = this.#known.get(key);
    if (known !== undefined) return known;
    if (this.#known.size >= this.#limit) this.#known.clear();
    keep?.(value);
    this.#known.set(key, value);
    return value;
  }
}

/** Strings that repeat across Pods: the namespace, a runner set's name, "job", "1". */
const strings = new Canonical<string>(4_096);
function intern(value: string): string {
  return value.length > 64 ? value : strings.of(value, value);
}

function ownEntries(map: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!map) return undefined;
  const kept: Record<string, string> = {};
  for (const key in map) {
    if (key.startsWith(OWN_KEY)) kept[key] = intern(map[key]!);
  }
  return kept;
}

/** One frozen empty list for every cached Pod's containers. */
const NO_CONTAINERS = Object.freeze([]) as unknown as V1Container[];

/**
 * A backlog is thousands of Pods with the same spec and status as far as the cache keeps them (gated, Pending,
 * PodScheduled False): each distinct one is kept once, frozen, and shared.
 */
const objects = new Canonical<object>(1_024);
function share<T extends object>(value: T): T {
  return objects.of(JSON.stringify(value), value, deepFreeze) as T;
}

function deepFreeze(value: object): void {
  for (const child of Object.values(value)) {
    if (typeof child === "object" && child !== null) deepFreeze(child);
  }
  Object.freeze(value);
}

/**
 * The parts of a Pod the scaler looks at; everything else is dropped on arrival. A cached runner Pod costs about
 * 1 KB of heap this way; 10,000 of them are part of the scaler's memory target.
 */
export function slimPod(pod: V1Pod): V1Pod {
  const { metadata = {}, spec = { containers: [] }, status = {} } = pod;
  const containerState = (statuses: NonNullable<V1Pod["status"]>["containerStatuses"]) =>
    statuses?.length
      ? statuses.map((s) => ({
          name: intern(s.name),
          ready: s.ready,
          restartCount: s.restartCount,
          image: "",
          imageID: "",
          ...(s.started === undefined ? {} : { started: s.started }),
          ...(s.state ? { state: slimState(s.state) } : {}),
          ...(s.lastState ? { lastState: slimState(s.lastState) } : {}),
        }))
      : undefined;
  const claims = spec.volumes
    ?.filter((volume) => volume.persistentVolumeClaim)
    .map((volume) => ({ name: volume.name, persistentVolumeClaim: volume.persistentVolumeClaim }));
  // Why a Pod isn't running (unschedulable, still gated) is all the reconciler reads of the conditions.
  const scheduled = status.conditions?.find((condition) => condition.type === "PodScheduled");
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace === undefined ? undefined : intern(metadata.namespace),
      uid: metadata.uid,
      resourceVersion: metadata.resourceVersion,
      creationTimestamp: asDate(metadata.creationTimestamp),
      ...(metadata.deletionTimestamp ? { deletionTimestamp: asDate(metadata.deletionTimestamp) } : {}),
      labels: ownEntries(metadata.labels),
      annotations: ownEntries(metadata.annotations),
    },
    spec: share({
      // Containers are not kept: the scaler rebuilds Pods from their runner set, it never copies one.
      containers: NO_CONTAINERS,
      ...(spec.schedulingGates?.length
        ? { schedulingGates: spec.schedulingGates.map(({ name }) => ({ name })) }
        : {}),
      ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
      // Which claim, if any, holds the daemon's data (the cache pool reads it).
      ...(claims?.length ? { volumes: claims } : {}),
    }),
    status: share({
      phase: status.phase === undefined ? undefined : intern(status.phase),
      ...(scheduled
        ? {
            conditions: [
              {
                type: "PodScheduled",
                status: intern(scheduled.status),
                ...(scheduled.reason ? { reason: intern(scheduled.reason) } : {}),
              },
            ],
          }
        : {}),
      containerStatuses: containerState(status.containerStatuses),
      initContainerStatuses: containerState(status.initContainerStatuses),
    }),
  };
}

type ContainerState = NonNullable<NonNullable<V1Pod["status"]>["containerStatuses"]>[number]["state"];

/**
 * What a container is doing, without its timestamps: nothing reads them, and without them the status of a backlog
 * of Pods is one shared object instead of one per Pod.
 */
function slimState(state: NonNullable<ContainerState>): NonNullable<ContainerState> {
  const { running, waiting, terminated } = state;
  return {
    ...(running ? { running: {} } : {}),
    ...(waiting ? { waiting: waiting.reason ? { reason: intern(waiting.reason) } : {} } : {}),
    ...(terminated
      ? {
          terminated: {
            exitCode: terminated.exitCode,
            ...(terminated.reason ? { reason: intern(terminated.reason) } : {}),
            ...(terminated.message ? { message: terminated.message } : {}),
          },
        }
      : {}),
  };
}

/**
 * A list page arrives through client-node's deserializer (timestamps as Dates), a watch event as the apiserver's
 * JSON (strings): the cache keeps Dates either way, as V1Pod says.
 */
function asDate(value: Date | string | undefined): Date | undefined {
  if (value === undefined || value instanceof Date) return value;
  return new Date(value);
}
