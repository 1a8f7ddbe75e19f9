// A server-side dry run of a runner Pod and its Secret: the apiserver validates, defaults and admits them
// (admission policies and webhooks included) with strict field validation, and stores nothing. What it refuses is
// reported in its own words; a typo in a runner set's Pod template shows here instead of at the first job.
import { CoreV1Api, type V1Pod, type V1Secret } from "@kubernetes/client-node";
import { KubeError, kubeApiError } from "./api-error.ts";
import type { KubeClient } from "./client.ts";
import { verbatim } from "./request-options.ts";

export const DRY_RUN = { dryRun: "All", fieldValidation: "Strict", fieldManager: "dind-k8s" } as const;

export interface DryRunRefusal {
  kind: "Pod" | "Secret";
  name: string;
  /** The apiserver's words (its Status message). */
  message: string;
}

/**
 * The apiserver's refusal of a dry-run `create` (its Status message), or undefined when it would store the object.
 * AlreadyExists counts as accepted: the name is checked last, after validation and admission passed. No answer, or
 * one about the request itself (401, 5xx), is not a verdict on the object: thrown.
 */
export async function dryRunRefusal(
  what: string,
  create: () => Promise<unknown>,
): Promise<string | undefined> {
  try {
    await create();
    return undefined;
  } catch (error: unknown) {
    const answer = kubeApiError(error);
    if (answer?.status === 409) return undefined;
    if (!answer || answer.status === 401 || answer.status >= 500)
      throw new KubeError(`dry run of ${what}`, error);
    return answer.detail;
  }
}

/** What the apiserver refuses of `objects` (nothing: it would create both). Throws when it can't be asked. */
export async function dryRunCreate(
  kube: KubeClient,
  namespace: string,
  objects: { pod: V1Pod; secret: V1Secret },
): Promise<DryRunRefusal[]> {
  const core = kube.api(CoreV1Api);
  const refusals: DryRunRefusal[] = [];
  const { pod, secret } = objects;
  const podName = pod.metadata?.name ?? "";
  const podRefusal = await dryRunRefusal(`Pod ${namespace}/${podName}`, () =>
    core.createNamespacedPod({ ...DRY_RUN, namespace, body: pod }, verbatim(pod)),
  );
  if (podRefusal) refusals.push({ kind: "Pod", name: podName, message: podRefusal });
  const secretName = secret.metadata?.name ?? "";
  const secretRefusal = await dryRunRefusal(`Secret ${namespace}/${secretName}`, () =>
    core.createNamespacedSecret({ ...DRY_RUN, namespace, body: secret }, verbatim(secret)),
  );
  if (secretRefusal) refusals.push({ kind: "Secret", name: secretName, message: secretRefusal });
  return refusals;
}
