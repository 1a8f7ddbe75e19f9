// Requests and limits of the runner Pod's containers: the set's own, completed per resource name with
// DEFAULT_RESOURCES, so one job can't take its node's memory or disk unless the set says so. Pure.
import type { V1ResourceRequirements } from "@kubernetes/client-node";
import { DEFAULT_RESOURCES } from "../config/defaults.ts";
import type { Resources, RunnerSet, Storage } from "../config/schema.ts";
import { addQuantities, quantityAbove } from "../model/quantity.ts";
import { memoryForTmpfs } from "./storage.ts";

/** init-externals copies a few hundred MB into a volume; its own footprint is small and fixed. */
const INIT_RESOURCES: Resources = {
  requests: { cpu: "10m", memory: "64Mi" },
  limits: { memory: "256Mi", "ephemeral-storage": "1Gi" },
};

/**
 * `own` completed with `defaults` for every resource name it doesn't set. A default never contradicts what the set
 * wrote: a default request above the set's limit becomes that limit, a default limit below the set's request
 * becomes that request (a Pod whose request exceeds its limit is invalid).
 */
export function withDefaultResources(own: Resources | undefined, defaults: Resources): Resources {
  const requests: Record<string, string> = { ...own?.requests };
  const limits: Record<string, string> = { ...own?.limits };
  for (const [name, value] of Object.entries(defaults.requests ?? {})) {
    if (requests[name] !== undefined) continue;
    const limit = limits[name];
    requests[name] = limit !== undefined && quantityAbove(value, limit) ? limit : value;
  }
  for (const [name, value] of Object.entries(defaults.limits ?? {})) {
    if (limits[name] !== undefined) continue;
    const request = requests[name];
    limits[name] = request !== undefined && quantityAbove(request, value) ? request : value;
  }
  return { requests, limits };
}

/** The kubelet charges an emptyDir's use to the Pod's ephemeral-storage: dind's limit must leave room for it. */
function dindDefaults(storage: Storage): Resources {
  const base = DEFAULT_RESOURCES.dind;
  const onDisk =
    storage.type === "emptyDir" ? storage.sizeLimit : storage.type === "loopDisk" ? storage.size : undefined;
  if (onDisk === undefined) return base;
  const ownDisk = base.limits["ephemeral-storage"];
  return {
    requests: base.requests,
    limits: { ...base.limits, "ephemeral-storage": addQuantities(ownDisk, onDisk) },
  };
}

/**
 * A container's own requests and limits: the set's typed key, else what its Pod template gives that container
 * (template.ts's precedence: typed keys, then the template); the defaults fill in the rest.
 */
function ownResources(set: RunnerSet, container: "runner" | "dind"): Resources | undefined {
  const typed = container === "runner" ? set.runner.resources : set.dind.resources;
  if (typed) return typed;
  const spec = set.template?.spec as { containers?: unknown; initContainers?: unknown } | undefined;
  const lists = [spec?.containers, spec?.initContainers].filter(Array.isArray) as {
    name?: unknown;
    resources?: unknown;
  }[][];
  const theirs = lists.flat().find((candidate) => candidate?.name === container)?.resources;
  return theirs && typeof theirs === "object" ? (theirs as Resources) : undefined;
}

export function runnerResources(set: RunnerSet): V1ResourceRequirements {
  return withDefaultResources(ownResources(set, "runner"), DEFAULT_RESOURCES.runner);
}

export function dindResources(set: RunnerSet, storage: Storage): V1ResourceRequirements {
  return (
    memoryForTmpfs(withDefaultResources(ownResources(set, "dind"), dindDefaults(storage)), storage) ?? {}
  );
}

export function initResources(): V1ResourceRequirements {
  return structuredClone(INIT_RESOURCES);
}
