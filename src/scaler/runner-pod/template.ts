// A runner set's own Pod template merged with the Pod dind-k8s builds. Pure.
//
// Precedence, one rule for every field: dind-k8s's own parts, then the set's typed keys, then the template.
// - The container named `runner` and the init container named `dind` are the template's to start and dind-k8s's
//   to complete: image, command, the JIT registration, DOCKER_HOST, the socket, _work and externals, the probe.
//   Their env and volumeMounts are the template's followed by dind-k8s's; every other field of theirs stays. Their
//   resources are the typed key's, else the template's, completed with the defaults (resources.ts); the runner's
//   securityContext is dind-k8s's defaults with the template's fields over them (security.ts).
// - Every other container, init container and volume is the template's, as written. Init containers the
//   template lists before `dind` start before the daemon; without a `dind` in the template, the daemon starts
//   first (after `init-externals`, always the very first).
// - Pod fields: labels, annotations, nodeSelector, affinity and securityContext are merged key by key (the typed
//   key's value wins); tolerations and imagePullSecrets are the template's followed by the typed key's; any other
//   field dind-k8s sets replaces the template's, except enableServiceLinks, a default the template may change.
// What the template may not say at all (its own JIT env, restartPolicy other than Never, …) is refused before
// this runs, by the configuration rules (config/template-rules.ts).
import type { V1Container, V1Pod, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import type { PodTemplate } from "../config/pod-template.ts";
import { CONTAINER } from "../model/pod-parts.ts";

const OURS: ReadonlySet<string> = new Set(Object.values(CONTAINER));
const MERGED_MAPS: ReadonlySet<string> = new Set(["nodeSelector", "affinity", "securityContext"]);
const JOINED_LISTS: ReadonlySet<string> = new Set(["tolerations", "imagePullSecrets"]);
/** What dind-k8s sets as a default only: the template's value wins. */
const DEFAULTS: ReadonlySet<string> = new Set(["enableServiceLinks"]);
const ARRANGED: ReadonlySet<string> = new Set(["containers", "initContainers", "volumes"]);

type Fields = Record<string, unknown>;

/** `ours` (the Pod as built from the set's typed keys) merged into the set's template; `ours` when there is none. */
export function mergeTemplate(ours: V1Pod, template: PodTemplate | undefined): V1Pod {
  if (!template) return ours;
  const theirs = structuredClone(template.spec ?? {}) as Fields & Partial<V1PodSpec>;
  const ourSpec = (ours.spec ?? { containers: [] }) as V1PodSpec & Fields;
  const spec: Fields = { ...theirs };
  for (const [key, value] of Object.entries(ourSpec)) {
    if (value === undefined || ARRANGED.has(key)) continue;
    const their = theirs[key];
    if (their === undefined) spec[key] = value;
    else if (MERGED_MAPS.has(key)) spec[key] = { ...(their as Fields), ...(value as Fields) };
    else if (JOINED_LISTS.has(key)) spec[key] = [...(their as unknown[]), ...(value as unknown[])];
    else if (!DEFAULTS.has(key)) spec[key] = value;
  }
  const theirInit = theirs.initContainers ?? [];
  const theirMain = theirs.containers ?? [];
  const theirByName = new Map([...theirInit, ...theirMain].map((container) => [container.name, container]));
  const initContainers = arrange(ourSpec.initContainers ?? [], theirInit, theirByName);
  if (initContainers.length > 0) spec.initContainers = initContainers;
  spec.containers = arrange(ourSpec.containers, theirMain, theirByName);
  spec.volumes = [...(theirs.volumes ?? []), ...(ourSpec.volumes ?? [])] satisfies V1Volume[];

  const metadata = ours.metadata ?? {};
  return {
    ...ours,
    metadata: {
      ...metadata,
      labels: { ...template.metadata?.labels, ...metadata.labels },
      annotations: { ...template.metadata?.annotations, ...metadata.annotations },
    },
    spec: spec as unknown as V1PodSpec,
  };
}

/**
 * One container list: the template's, in its order, with our containers completed in their places. Ours that the
 * template doesn't list in this list go first, in our order (so init-externals is always the first init container).
 */
function arrange(
  ourList: readonly V1Container[],
  theirList: readonly V1Container[],
  theirByName: ReadonlyMap<string, V1Container>,
): V1Container[] {
  const ours = new Map(ourList.map((container) => [container.name, container]));
  const completed = (container: V1Container) => complete(theirByName.get(container.name), container);
  const placed: V1Container[] = [];
  for (const container of theirList) {
    const own = ours.get(container.name);
    if (own) placed.push(completed(own));
    // Ours, but it belongs in the other list in this sidecar mode (dind): it is completed there.
    else if (!OURS.has(container.name)) placed.push(container);
  }
  const names = new Set(placed.map((container) => container.name));
  return [...ourList.filter((container) => !names.has(container.name)).map(completed), ...placed];
}

/** The template's container completed with ours: our fields win; env and mounts are theirs, then ours. */
function complete(theirs: V1Container | undefined, ours: V1Container): V1Container {
  if (!theirs) return ours;
  const container: V1Container = { ...theirs, ...ours };
  const env = [...(theirs.env ?? []), ...(ours.env ?? [])];
  const volumeMounts = [...(theirs.volumeMounts ?? []), ...(ours.volumeMounts ?? [])];
  if (env.length > 0) container.env = env;
  if (volumeMounts.length > 0) container.volumeMounts = volumeMounts;
  return container;
}
