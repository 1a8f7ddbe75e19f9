// The runner Pods of one namespace, kept current by list + watch, holding only the fields the scaler reads.
//
// Why not client-node's informer: it LISTs everything in one response and keeps each Pod as a fully
// deserialized object. A runner Pod is ~10 KB of JSON (scripts, volumes, managedFields), so 10,000 of them
// cost ~930 MB of RSS in one scaler (measured with `npm run bench -- scale`). Here the list is paged, and each
// Pod is cut down to its slim view (~1 KB) the moment it arrives.

import type { IncomingMessage } from "node:http";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { KEY_PREFIX as LABEL_PREFIX } from "../model/keys.ts";
import { type KubeClient, kubeStatus } from "./client.ts";

/** Labels and annotations the scaler writes and reads; others (selectors, ones users add) are not kept. */
const OWN_KEY = `${LABEL_PREFIX}/`;

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
          ...(s.state ? { state: s.state } : {}),
          ...(s.lastState ? { lastState: s.lastState } : {}),
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
      creationTimestamp: metadata.creationTimestamp,
      ...(metadata.deletionTimestamp ? { deletionTimestamp: metadata.deletionTimestamp } : {}),
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

export interface PodCacheOptions {
  kube: KubeClient;
  namespace: string;
  labelSelector: string;
  /** Items per LIST page. */
  pageSize?: number;
  /** A watch is ended by the apiserver after about this long and resumed from its resourceVersion. */
  watchTimeoutSeconds?: number;
}

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: V1Pod & { code?: number; message?: string };
}

class Gone extends Error {}

export class PodCache {
  readonly #options: Required<PodCacheOptions>;
  #pods = new Map<string, V1Pod>();
  #resourceVersion = "";
  #synced = false;
  #stopped = true;
  #lastError: string | undefined;
  #current: IncomingMessage | undefined;
  #loop: Promise<void> = Promise.resolve();
  readonly #changed = new Set<() => void>();
  readonly #deleted = new Set<(pod: V1Pod) => void>();

  constructor(options: PodCacheOptions) {
    this.#options = { pageSize: 100, watchTimeoutSeconds: 300, ...options };
  }

  get synced(): boolean {
    return this.#synced;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  get(name: string): V1Pod | undefined {
    return this.#pods.get(name);
  }

  list(): V1Pod[] {
    return [...this.#pods.values()];
  }

  onChange(listener: () => void): () => void {
    this.#changed.add(listener);
    return () => this.#changed.delete(listener);
  }

  /** The Pod as its DELETED event carried it (its last status). */
  onDeleted(listener: (pod: V1Pod) => void): () => void {
    this.#deleted.add(listener);
    return () => this.#deleted.delete(listener);
  }

  /** Lists (so the cache is complete when this resolves), then keeps watching until stop(). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#relist();
    this.#loop = this.#watchLoop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#current?.destroy();
    await this.#loop;
  }

  #emitChange(): void {
    for (const listener of this.#changed) listener();
  }

  #path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.#options.namespace)}/pods`;
  }

  /** A list page or a watch; `idleMs` ends it when the connection goes quiet for that long (a dead peer). */
  async #get(query: Record<string, string>, idleMs: number): Promise<IncomingMessage> {
    try {
      return await this.#options.kube.stream(this.#path(), {
        query: { labelSelector: this.#options.labelSelector, ...query },
        timeoutMs: idleMs,
      });
    } catch (error: unknown) {
      if (kubeStatus(error) === 410) throw new Gone(String(error));
      throw error;
    }
  }

  async #relist(): Promise<void> {
    const next = new Map<string, V1Pod>();
    let continueToken = "";
    let resourceVersion = "";
    do {
      const response = await this.#get(
        {
          limit: String(this.#options.pageSize),
          ...(continueToken ? { continue: continueToken } : {}),
        },
        30_000,
      );
      // Decoded as it arrives: no second copy of the page as one Buffer.
      let text = "";
      response.setEncoding("utf8");
      for await (const chunk of response) text += chunk as string;
      const page = JSON.parse(text) as {
        items: V1Pod[];
        metadata: { continue?: string; resourceVersion: string };
      };
      for (const pod of page.items) {
        const slim = slimPod(pod);
        if (slim.metadata?.name) next.set(slim.metadata.name, slim);
      }
      continueToken = page.metadata.continue ?? "";
      resourceVersion = page.metadata.resourceVersion;
    } while (continueToken);
    this.#pods = next;
    this.#resourceVersion = resourceVersion;
    this.#synced = true;
    this.#lastError = undefined;
    this.#emitChange();
  }

  async #watchLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        await this.#watchOnce();
        failures = 0;
      } catch (error: unknown) {
        if (this.#stopped) return;
        if (error instanceof Gone) {
          // Our resourceVersion is too old to resume from: start over with a fresh list.
          await this.#relist().catch((relistError: unknown) => {
            this.#lastError = String(relistError);
          });
          continue;
        }
        failures++;
        this.#lastError = error instanceof Error ? error.message : String(error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** failures, 10_000)));
      }
    }
  }

  async #watchOnce(): Promise<void> {
    const response = await this.#get(
      {
        watch: "true",
        allowWatchBookmarks: "true",
        resourceVersion: this.#resourceVersion,
        timeoutSeconds: String(this.#options.watchTimeoutSeconds),
      },
      // Bookmarks arrive about once a minute, and the apiserver ends the watch after timeoutSeconds.
      (this.#options.watchTimeoutSeconds + 60) * 1000,
    );
    this.#current = response;
    let buffered = "";
    response.setEncoding("utf8");
    for await (const chunk of response) {
      buffered += chunk as string;
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim()) this.#apply(JSON.parse(line) as WatchEvent);
        newline = buffered.indexOf("\n");
      }
    }
  }

  #apply(event: WatchEvent): void {
    if (event.type === "ERROR") {
      if (event.object.code === 410) throw new Gone(event.object.message ?? "resourceVersion too old");
      throw new Error(`watch error: ${event.object.message ?? JSON.stringify(event.object)}`);
    }
    const resourceVersion = event.object.metadata?.resourceVersion;
    if (resourceVersion) this.#resourceVersion = resourceVersion;
    if (event.type === "BOOKMARK") return;
    const pod = slimPod(event.object);
    const name = pod.metadata?.name;
    if (!name) return;
    if (event.type === "DELETED") {
      this.#pods.delete(name);
      for (const listener of this.#deleted) listener(pod);
    } else {
      this.#pods.set(name, pod);
    }
    this.#emitChange();
  }
}
