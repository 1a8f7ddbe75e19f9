// Options of client-node requests that several of our Kubernetes writers share.
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

/** client-node sends a PATCH as its first content type (JSON patch) unless told which. */
export const MERGE_PATCH = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
export const JSON_PATCH = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);

/** A DELETE's body with preconditions (uid, resourceVersion) when given: the apiserver answers 409 if they fail. */
export function deletePreconditions(preconditions: {
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}) {
  const set = Object.fromEntries(Object.entries(preconditions).filter(([, value]) => value));
  return Object.keys(set).length > 0 ? { body: { preconditions: set } } : {};
}
