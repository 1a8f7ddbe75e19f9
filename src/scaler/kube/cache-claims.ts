// The Docker cache volume pool's claims (PersistentVolumeClaims) in the runner namespace. Reads go to the
// apiserver, not a cache: leases are decided on them, with resourceVersion preconditions.
import { CoreV1Api, type V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { KubeError, kubeStatus } from "./api-error.ts";
import type { KubeClient } from "./client.ts";
import { deletePreconditions, MERGE_PATCH } from "./request-options.ts";

export interface CacheClaimsOptions {
  kube: KubeClient;
  namespace: string;
  /** Identifies this scaler in managedFields. */
  fieldManager?: string;
}

export class CacheClaims {
  readonly namespace: string;
  readonly #core: CoreV1Api;
  readonly #fieldManager: string;

  constructor({ kube, namespace, fieldManager = "dind-k8s" }: CacheClaimsOptions) {
    this.namespace = namespace;
    this.#core = kube.api(CoreV1Api);
    this.#fieldManager = fieldManager;
  }

  /**
   * The cache claims matching `labelSelector`, read from the apiserver (a quorum read, not a cache): leases are
   * decided on them, and a pool is a handful of objects.
   */
  async list(labelSelector: string): Promise<V1PersistentVolumeClaim[]> {
    try {
      const list = await this.#core.listNamespacedPersistentVolumeClaim({
        namespace: this.namespace,
        labelSelector,
      });
      return list.items;
    } catch (error: unknown) {
      throw new KubeError(`list PersistentVolumeClaims ${this.namespace} (${labelSelector})`, error);
    }
  }

  /** The created claim, or "exists" when a claim of that name is already there. */
  async create(claim: V1PersistentVolumeClaim): Promise<V1PersistentVolumeClaim | "exists"> {
    try {
      return await this.#core.createNamespacedPersistentVolumeClaim({
        namespace: this.namespace,
        body: claim,
        fieldManager: this.#fieldManager,
      });
    } catch (error: unknown) {
      if (kubeStatus(error) === 409) return "exists";
      throw new KubeError(`create PersistentVolumeClaim ${this.namespace}/${claim.metadata?.name}`, error);
    }
  }

  /**
   * Sets (string) or removes (null) annotations of a claim, only if it is still at `resourceVersion`: a
   * resourceVersion in a merge patch is a precondition, so of two writers working from the same read one gets
   * "conflict". That is what makes a lease on a claim exclusive.
   */
  async annotate(
    name: string,
    resourceVersion: string,
    annotations: Record<string, string | null>,
  ): Promise<{ result: "updated"; claim: V1PersistentVolumeClaim } | { result: "conflict" | "gone" }> {
    try {
      const claim = await this.#core.patchNamespacedPersistentVolumeClaim(
        {
          name,
          namespace: this.namespace,
          body: { metadata: { resourceVersion, annotations } },
          fieldManager: this.#fieldManager,
        },
        MERGE_PATCH,
      );
      return { result: "updated", claim };
    } catch (error: unknown) {
      if (kubeStatus(error) === 404) return { result: "gone" };
      if (kubeStatus(error) === 409) return { result: "conflict" };
      throw new KubeError(`annotate PersistentVolumeClaim ${this.namespace}/${name}`, error);
    }
  }

  /**
   * Deletes a claim if it is still the object `uid` (and unchanged since `resourceVersion`, when given); NotFound
   * and a newer or changed claim count as done: the caller decides again on its next read.
   */
  async delete(name: string, uid: string, resourceVersion?: string): Promise<void> {
    try {
      await this.#core.deleteNamespacedPersistentVolumeClaim({
        name,
        namespace: this.namespace,
        ...deletePreconditions({ uid, resourceVersion }),
      });
    } catch (error: unknown) {
      const status = kubeStatus(error);
      if (status === 404 || status === 409) return;
      throw new KubeError(`delete PersistentVolumeClaim ${this.namespace}/${name}`, error);
    }
  }
}
