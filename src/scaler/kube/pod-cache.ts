// The runner Pods of one namespace, kept current by list + watch, holding only the fields the scaler reads.
//
// Why not client-node's informer: it LISTs everything in one response and keeps each Pod as a fully
// deserialized object. A runner Pod is ~10 KB of JSON (scripts, volumes, managedFields), so 10,000 of them
// cost ~930 MB of RSS in one scaler (measured with `npm run bench -- scale`). Here the list is paged (client-node's
// CoreV1Api with limit/continue), the watch is client-node's Watch, and each Pod is cut down to its slim view
// (~1 KB) the moment it arrives (slim-pod.ts).
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { describeKubeError, kubeStatus } from "./api-error.ts";
import type { KubeClient } from "./client.ts";
import { slimPod } from "./slim-pod.ts";

export interface PodCacheOptions {
  kube: KubeClient;
  namespace: string;
  labelSelector: string;
  /** Items per LIST page. */
  pageSize?: number;
  /**
   * A watch is ended by the apiserver after this long and resumed from its resourceVersion. It stays below the 30 s
   * client-node's Watch waits for data before it gives up on a connection (its idle timeout, which finds a dead
   * apiserver): the apiserver sends a bookmark just before it ends a watch, so even a namespace where nothing
   * happens moves our resourceVersion forward and a resumed watch never starts from one compacted away (which
   * would cost a full relist of every Pod).
   */
  watchTimeoutSeconds?: number;
  /** Called after each complete LIST: the first, and each time a watch could not resume. */
  onList?: () => void;
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
  #current: AbortController | undefined;
  readonly #core: CoreV1Api;
  #loop: Promise<void> = Promise.resolve();
  readonly #changed = new Set<() => void>();
  readonly #deleted = new Set<(pod: V1Pod) => void>();

  constructor(options: PodCacheOptions) {
    this.#options = { pageSize: 100, watchTimeoutSeconds: 25, onList: () => {}, ...options };
    this.#core = options.kube.api(CoreV1Api);
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
    this.#current?.abort();
    await this.#loop;
  }

  #emitChange(): void {
    for (const listener of this.#changed) listener();
  }

  async #relist(): Promise<void> {
    const next = new Map<string, V1Pod>();
    let continueToken: string | undefined;
    let resourceVersion = "";
    do {
      let page: Awaited<ReturnType<CoreV1Api["listNamespacedPod"]>>;
      try {
        page = await this.#core.listNamespacedPod({
          namespace: this.#options.namespace,
          labelSelector: this.#options.labelSelector,
          limit: this.#options.pageSize,
          ...(continueToken ? { _continue: continueToken } : {}),
        });
      } catch (error: unknown) {
        // The continue token expired between pages: the caller starts over.
        if (kubeStatus(error) === 410) throw new Gone(describeKubeError(error));
        throw error;
      }
      for (const pod of page.items) {
        const slim = slimPod(pod);
        if (slim.metadata?.name) next.set(slim.metadata.name, slim);
      }
      // Only the slim Pods stay; the page (and its deserialized Pods) goes now, not with the last page.
      page.items.length = 0;
      continueToken = page.metadata?._continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? "";
    } while (continueToken);
    this.#pods = next;
    this.#resourceVersion = resourceVersion;
    this.#synced = true;
    this.#lastError = undefined;
    this.#options.onList();
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
            this.#lastError = `list Pods: ${describeKubeError(relistError)}`;
          });
          continue;
        }
        failures++;
        this.#lastError = `watch Pods: ${describeKubeError(error)}`;
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** failures, 10_000)));
      }
    }
  }

  /** One watch, from our resourceVersion until the apiserver ends it (or it fails, or stop()). */
  async #watchOnce(): Promise<void> {
    const path = `/api/v1/namespaces/${encodeURIComponent(this.#options.namespace)}/pods`;
    let failure: unknown;
    let controller: AbortController | undefined;
    const ended = new Promise<void>((resolve, reject) => {
      const watching = this.#options.kube.watch().watch(
        path,
        {
          labelSelector: this.#options.labelSelector,
          allowWatchBookmarks: true,
          resourceVersion: this.#resourceVersion,
          timeoutSeconds: this.#options.watchTimeoutSeconds,
        },
        (type, object) => {
          if (failure !== undefined) return;
          // Watch swallows what its callback throws: keep it, and end the watch.
          try {
            this.#apply({ type, object } as WatchEvent);
          } catch (error: unknown) {
            failure = error;
            controller?.abort();
          }
        },
        (error: unknown) => {
          if (failure !== undefined) reject(failure);
          else if (!error || (error instanceof Error && error.name === "TimeoutError")) {
            // The apiserver ended the watch (timeoutSeconds), or nothing came for Watch's idle timeout: resume.
            resolve();
          } else if (kubeStatus(error) === 410) reject(new Gone(describeKubeError(error)));
          else reject(error);
        },
      );
      watching.then((started) => {
        controller = started;
        this.#current = started;
        if (failure !== undefined || this.#stopped) started.abort();
      }, reject);
    });
    await ended;
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
