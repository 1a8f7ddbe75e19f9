// Options of client-node requests that several of our Kubernetes writers share.
import {
  type ConfigurationOptions,
  Observable,
  type ObservableMiddleware,
  PatchStrategy,
  type RequestContext,
  type ResponseContext,
  setHeaderOptions,
} from "@kubernetes/client-node";

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

/**
 * Sends `body` as it is. client-node serializes a typed body through its model, which drops every field the model
 * doesn't know: a typo in a runner set's Pod template, or a field newer than the model, would vanish silently
 * instead of being refused (or kept) by the apiserver. The apiserver validates what we send, so we send what we
 * built.
 */
export function verbatim(body: object): ConfigurationOptions<ObservableMiddleware> {
  const json = JSON.stringify(body);
  // Per-call middleware is client-node's observable kind, as setHeaderOptions makes it.
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setBody(json);
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}
