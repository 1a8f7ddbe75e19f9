// The scaler's only door to Kubernetes: runner Pods and their JIT Secrets in one namespace, a watched
// cache of the Pods (so neither intake nor the reconciler LISTs per event), and the outcomes that are
// idempotent by design — AlreadyExists on create, NotFound on delete — handled here, in one place.
import { CoreV1Api, type CoreV1Event, type V1Pod, type V1Secret } from "@kubernetes/client-node";
import { LABELS } from "../model/keys.ts";
import { KubeError, kubeStatus } from "./api-error.ts";
import type { KubeClient } from "./client.ts";
import { DRY_RUN, dryRunRefusal } from "./dry-run.ts";
import { PodCache } from "./pod-cache.ts";
import { SCALER_LEASE_NAME } from "./rbac.ts";
import { deletePreconditions, JSON_PATCH, MERGE_PATCH, verbatim } from "./request-options.ts";
import { whileThrottled } from "./throttled.ts";

export type { V1Pod, V1Secret } from "@kubernetes/client-node";

export interface RunnerPodsOptions {
  kube: KubeClient;
  namespace: string;
  /** Identifies this scaler in managedFields and Events. */
  fieldManager?: string;
  /** Called after each complete LIST of the Pod cache (PodCacheOptions.onList). */
  onCacheList?: () => void;
}

const SELECTOR = `${LABELS.managedBy}=dind-k8s,${LABELS.component}=runner`;

/** client-node sends a PATCH as its first content type (JSON patch) unless told which. */

export class RunnerPods {
  readonly namespace: string;
  readonly #core: CoreV1Api;
  readonly #fieldManager: string;
  readonly #cache: PodCache;

  constructor({ kube, namespace, fieldManager = "dind-k8s", onCacheList }: RunnerPodsOptions) {
    this.namespace = namespace;
    this.#core = kube.api(CoreV1Api);
    this.#fieldManager = fieldManager;
    this.#cache = new PodCache({
      kube,
      namespace,
      labelSelector: SELECTOR,
      ...(onCacheList ? { onList: onCacheList } : {}),
    });
  }

  /** DeleteOptions with preconditions (uid, resourceVersion) when given: the apiserver answers 409 if they fail. */

  /** Lists the runner Pods (the cache is complete when this resolves), then watches them until stop(). */
  async start(): Promise<void> {
    try {
      await this.#cache.start();
    } catch (error: unknown) {
      throw new KubeError(`list runner Pods in ${this.namespace}`, error);
    }
  }

  async stop(): Promise<void> {
    await this.#cache.stop();
  }

  get synced(): boolean {
    return this.#cache.synced;
  }

  get lastError(): string | undefined {
    return this.#cache.lastError;
  }

  /** Called (without arguments) whenever a runner Pod is added, changed or deleted. */
  onChange(listener: () => void): () => void {
    return this.#cache.onChange(listener);
  }

  /**
   * Called with a runner Pod's last state as the watch delivered it when the Pod was removed: the only sight of
   * a status written just before the kubelet's final delete (the cache forgets the Pod at once).
   */
  onDeleted(listener: (pod: V1Pod) => void): () => void {
    return this.#cache.onDeleted(listener);
  }

  /** Runner Pods as the cache last saw them, slimmed to the fields the scaler reads (see slimPod). */
  cached(): readonly V1Pod[] {
    return this.#cache.list();
  }

  cachedPod(name: string): V1Pod | undefined {
    return this.#cache.get(name);
  }

  /** "created", or "exists" when a Pod of that name is already there (a duplicate delivery). */
  async create(pod: V1Pod): Promise<{ result: "created"; pod: V1Pod } | { result: "exists" }> {
    try {
      const created = await whileThrottled(() =>
        // As built, and as strictly as the dry run at start judged it: a field client-node's model doesn't know is
        // sent, and one the apiserver doesn't know is refused instead of dropped with a warning.
        this.#core.createNamespacedPod(
          {
            namespace: this.namespace,
            body: pod,
            fieldManager: this.#fieldManager,
            fieldValidation: "Strict",
          },
          verbatim(pod),
        ),
      );
      return { result: "created", pod: created };
    } catch (error: unknown) {
      if (kubeStatus(error) === 409) return { result: "exists" };
      throw new KubeError(`create Pod ${this.namespace}/${pod.metadata?.name}`, error);
    }
  }

  /** The apiserver's refusal of `pod` in a dry run (strict fields, admission), or undefined when it takes it. */
  refusal(pod: V1Pod): Promise<string | undefined> {
    return dryRunRefusal(`Pod ${this.namespace}/${pod.metadata?.name}`, () =>
      this.#core.createNamespacedPod({ ...DRY_RUN, namespace: this.namespace, body: pod }, verbatim(pod)),
    );
  }

  async read(name: string): Promise<V1Pod | undefined> {
    try {
      return await this.#core.readNamespacedPod({ name, namespace: this.namespace });
    } catch (error: unknown) {
      if (kubeStatus(error) === 404) return undefined;
      throw new KubeError(`read Pod ${this.namespace}/${name}`, error);
    }
  }

  /**
   * JSON merge patch of labels/annotations; false when the Pod is gone. With a resourceVersion the write is
   * conditional: a Pod changed since fails with KubeError status 409.
   */
  async patchMetadata(
    name: string,
    metadata: {
      labels?: Record<string, string | null>;
      annotations?: Record<string, string | null>;
      resourceVersion?: string | undefined;
    },
  ): Promise<boolean> {
    try {
      await whileThrottled(() =>
        this.#core.patchNamespacedPod(
          { name, namespace: this.namespace, body: { metadata }, fieldManager: this.#fieldManager },
          MERGE_PATCH,
        ),
      );
      return true;
    } catch (error: unknown) {
      if (kubeStatus(error) === 404) return false;
      throw new KubeError(`patch Pod ${this.namespace}/${name}`, error);
    }
  }

  /**
   * Marks the job of a Pod started — unless the Pod says it is already done: a late or reordered in_progress
   * must not turn a tombstone back into a waiting Pod. The write carries the resourceVersion it was decided
   * on, so a concurrent `done` wins. `annotations` are written either way. false when the Pod is gone.
   */
  async markJobStarted(name: string, annotations: Record<string, string> = {}): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.read(name);
      if (!current) return false;
      const done = current.metadata?.labels?.[LABELS.jobState] === "done";
      if (done && Object.keys(annotations).length === 0) return true;
      const metadata = {
        resourceVersion: current.metadata?.resourceVersion,
        ...(done ? {} : { labels: { [LABELS.jobState]: "started" } }),
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      };
      try {
        return await this.patchMetadata(name, metadata);
      } catch (error: unknown) {
        if (error instanceof KubeError && error.status === 409 && attempt < 5) continue;
        throw error;
      }
    }
  }

  /**
   * Removes the scheduling gates, only if the Pod still has exactly `gate` — and, given a resourceVersion, only
   * if the Pod is unchanged since (JSON patch `test`s make a concurrent change fail instead of being
   * overwritten). false when the Pod is gone, already released, or changed since `resourceVersion`.
   */
  async releaseGate(
    name: string,
    gate: string,
    annotations: Record<string, string>,
    resourceVersion?: string,
  ): Promise<boolean> {
    const pointer = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");
    try {
      const body = [
        ...(resourceVersion
          ? [{ op: "test", path: "/metadata/resourceVersion", value: resourceVersion }]
          : []),
        { op: "test", path: "/spec/schedulingGates", value: [{ name: gate }] },
        { op: "remove", path: "/spec/schedulingGates" },
        ...Object.entries(annotations).map(([key, value]) => ({
          op: "add",
          path: `/metadata/annotations/${pointer(key)}`,
          value,
        })),
      ];
      await this.#core.patchNamespacedPod(
        { name, namespace: this.namespace, body, fieldManager: this.#fieldManager },
        JSON_PATCH,
      );
      return true;
    } catch (error: unknown) {
      if (kubeStatus(error) === 404) return false;
      if (kubeStatus(error) === 422) {
        // A `test` failed: the informer was behind and the gate is already gone (a pass released it), or the
        // Pod changed since it was read (the next pass plans again).
        const current = await this.read(name);
        if (!current || (current.spec?.schedulingGates ?? []).length === 0) return false;
        if (resourceVersion && current.metadata?.resourceVersion !== resourceVersion) return false;
      }
      throw new KubeError(`remove the scheduling gate of Pod ${this.namespace}/${name}`, error);
    }
  }

  /**
   * Deletes a Pod; NotFound counts as done. `uid` guards against deleting a newer Pod of the same name, and
   * `resourceVersion` against deleting one that changed since it was read ("changed": left alone).
   */
  async delete(
    name: string,
    uid?: string,
    resourceVersion?: string,
  ): Promise<"deleted" | "gone" | "changed"> {
    try {
      await this.#core.deleteNamespacedPod({
        name,
        namespace: this.namespace,
        ...deletePreconditions({ uid, resourceVersion }),
      });
      return "deleted";
    } catch (error: unknown) {
      const status = kubeStatus(error);
      if (status === 404) return "gone";
      if (status === 409) return "changed";
      throw new KubeError(`delete Pod ${this.namespace}/${name}`, error);
    }
  }

  /** Creates the JIT Secret; "exists" if it already does (a release interrupted after this step). */
  async createSecret(secret: V1Secret): Promise<"created" | "exists"> {
    try {
      await this.#core.createNamespacedSecret({
        namespace: this.namespace,
        body: secret,
        fieldManager: this.#fieldManager,
      });
      return "created";
    } catch (error: unknown) {
      if (kubeStatus(error) === 409) return "exists";
      throw new KubeError(`create Secret ${this.namespace}/${secret.metadata?.name}`, error);
    }
  }

  async secretExists(name: string): Promise<boolean> {
    try {
      await this.#core.readNamespacedSecret({ name, namespace: this.namespace });
      return true;
    } catch (error: unknown) {
      if (kubeStatus(error) === 404) return false;
      throw new KubeError(`read Secret ${this.namespace}/${name}`, error);
    }
  }

  async deleteSecret(name: string): Promise<void> {
    try {
      await this.#core.deleteNamespacedSecret({ name, namespace: this.namespace });
    } catch (error: unknown) {
      if (kubeStatus(error) === 404) return;
      throw new KubeError(`delete Secret ${this.namespace}/${name}`, error);
    }
  }

  /** A Warning/Normal Event on a Pod, for `kubectl describe`; failures to record it are not fatal. */
  async event(pod: V1Pod, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const name = pod.metadata?.name;
    await this.#event({ apiVersion: "v1", kind: "Pod", name, uid: pod.metadata?.uid }, type, reason, message);
  }

  /**
   * An Event about the scaler as a whole (GitHub lost or back), on the Lease every replica shares: it shows in
   * `kubectl get events -n <runner namespace>` and `kubectl describe lease dind-k8s-scaler`.
   */
  async scalerEvent(type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", name: SCALER_LEASE_NAME };
    await this.#event(lease, type, reason, message);
  }

  async #event(
    involved: { apiVersion: string; kind: string; name: string | undefined; uid?: string | undefined },
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void> {
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { generateName: `${involved.name}.`, namespace: this.namespace },
      involvedObject: { ...involved, namespace: this.namespace },
      type,
      reason,
      message,
      source: { component: "dind-k8s" },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.#core.createNamespacedEvent({ namespace: this.namespace, body });
    } catch {
      // An Event is a courtesy to the operator; never fail the step that reports it.
    }
  }
}
