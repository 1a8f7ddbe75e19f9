// A server-side dry run of a runner Pod and its Secret: the apiserver validates, defaults and admits them
// (admission policies and webhooks included) with strict field validation, and stores nothing. What it refuses is
// reported in its own words; a typo in a runner set's Pod template shows here instead of at the first job.
import { CoreV1Api, type V1Pod, type V1Secret } from "@kubernetes/client-node";
import { KubeError, kubeApiError } from "./api-error.ts";
import type { KubeClient } from "./client.ts";
import { verbatim } from "./request-options.ts";

export interface DryRunRefusal {
  kind: "Pod" | "Secret";
  name: string;
  /** The apiserver's words (its Status message). */
  message: string;
}

/** What the apiserver refuses of `objects` (nothing: it would create both). Throws when it can't be asked. */
export async function dryRunCreate(
  kube: KubeClient,
  namespace: string,
  objects: { pod: V1Pod; secret: V1Secret },
): Promise<DryRunRefusal[]> {
  const core = kube.api(CoreV1Api);
  const options = { namespace, dryRun: "All", fieldValidation: "Strict", fieldManager: "dind-k8s" };
  const refusals: DryRunRefusal[] = [];
  const attempt = async (
    kind: DryRunRefusal["kind"],
    body: V1Pod | V1Secret,
    create: () => Promise<unknown>,
  ) => {
    const name = body.metadata?.name ?? "";
    try {
      await create();
    } catch (error: unknown) {
      const answer = kubeApiError(error);
      // No answer (no connection, a timeout) or one about the request itself is not a verdict on the object.
      if (!answer || answer.status === 401 || answer.status >= 500) {
        throw new KubeError(`dry run of ${kind} ${namespace}/${name}`, error);
      }
      refusals.push({ kind, name, message: answer.detail });
    }
  };
  await attempt("Pod", objects.pod, () =>
    core.createNamespacedPod({ ...options, body: objects.pod }, verbatim(objects.pod)),
  );
  await attempt("Secret", objects.secret, () =>
    core.createNamespacedSecret({ ...options, body: objects.secret }, verbatim(objects.secret)),
  );
  return refusals;
}
