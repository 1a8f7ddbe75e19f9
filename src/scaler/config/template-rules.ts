// What a runner set's Pod template may not say, because it would contradict a part of the Pod dind-k8s must own:
// the runner's JIT registration and daemon socket, the scheduling gate, a Pod that runs once, the daemon's start,
// probe and privileges, and the names of dind-k8s's own volumes and labels. Each problem names the key and why.
// Runs on the raw input like the other rules (rules.ts), so it reports next to the schema's problems.
import { KEY_PREFIX, LABELS } from "../model/keys.ts";
import { CONTAINER, DIND_ENV_PREFIX, RUNNER_ENV, VOLUME } from "../model/pod-parts.ts";
import type { PathSegment, Problem } from "./problems.ts";
import { mapping, type Raw } from "./raw.ts";

const OWN_VOLUMES: readonly string[] = Object.values(VOLUME);
const OWN_LABELS: readonly string[] = [LABELS.name, LABELS.component, LABELS.managedBy, LABELS.partOf];
const RUNNER_ENV_WHY: Record<string, string> = {
  [RUNNER_ENV.jitConfig]: "the runner's JIT registration comes from the Pod's own Secret, made at release",
  [RUNNER_ENV.dockerHost]: "the runner talks to the Pod's own daemon on its unix socket",
  [RUNNER_ENV.stopFile]: "dind-k8s's legacy sidecar mode uses it",
};

/** Fields of `runner` and `dind` that dind-k8s sets, and what to use instead. */
const OWNED_FIELDS: Record<"runner" | "dind", Record<string, string>> = {
  runner: {
    image: "set runner.image instead",
    command: "dind-k8s starts the runner (run.sh with its JIT configuration)",
    args: "dind-k8s starts the runner (run.sh with its JIT configuration)",
  },
  dind: {
    image: "set dind.image instead",
    command: "dind-k8s starts dockerd through its start script (MTU, storage, socket)",
    args: "set dind.args instead: they are appended to dockerd's own",
    startupProbe: "dind-k8s's startup probe holds the runner back until the daemon answers",
    restartPolicy: "set by kubernetes.sidecars (native sidecar or a plain container)",
    securityContext: "set by runtime.profile (privileged, kata, sysbox or rootless)",
  },
};

/** A dind that is privileged on the host itself (not inside a VM or a user namespace). */
const HOST_PRIVILEGED = ["privileged", "rootless"];

export function checkTemplate(
  template: unknown,
  path: PathSegment[],
  profile: unknown,
  problems: Problem[],
): void {
  const raw = mapping(template);
  if (raw === undefined) return;
  const say = (at: PathSegment[], message: string) => problems.push({ path: [...path, ...at], message });

  const metadata = mapping(raw.metadata);
  for (const kind of ["labels", "annotations"] as const) {
    for (const key of Object.keys(mapping(metadata?.[kind]) ?? {})) {
      if (key.startsWith(`${KEY_PREFIX}/`) || (kind === "labels" && OWN_LABELS.includes(key))) {
        say(["metadata", kind, key], "a key of dind-k8s's own: it finds and tracks its Pods by these");
      }
    }
  }

  const spec = mapping(raw.spec);
  if (spec === undefined) return;
  const at = (...rest: PathSegment[]) => ["spec", ...rest];
  if (spec.restartPolicy !== undefined && spec.restartPolicy !== "Never") {
    say(
      at("restartPolicy"),
      `expected Never (or nothing), got ${JSON.stringify(spec.restartPolicy)}: a runner Pod runs one job and is removed when its runner exits`,
    );
  }
  const refused: Record<string, string> = {
    schedulingGates:
      "dind-k8s gates its Pods itself and lifts only its own gate at release: another gate would hold the runner back for ever",
    nodeName:
      "a Pod bound to a node skips the scheduler and can't wait behind the scheduling gate: use nodeSelector or affinity",
    runtimeClassName: "set runtime.runtimeClassName instead: the runtime profile depends on it",
  };
  for (const [key, why] of Object.entries(refused)) {
    if (spec[key] !== undefined) say(at(key), why);
  }
  if (spec.automountServiceAccountToken === true) {
    say(at("automountServiceAccountToken"), "the runner and its jobs never get a Kubernetes API token");
  }
  if (HOST_PRIVILEGED.includes(String(profile))) {
    for (const key of ["hostNetwork", "hostPID", "hostIPC"]) {
      if (spec[key] === true) {
        say(
          at(key),
          `not with the ${String(profile)} profile: a privileged dockerd in the host's namespaces could change the node itself (its network, its processes)`,
        );
      }
    }
  }
  if (profile === "rootless" && mapping(spec.securityContext)?.fsGroup !== undefined) {
    say(
      at("securityContext", "fsGroup"),
      "set by the rootless profile: the runner's docker group (runner.dockerGid), so the daemon can write its volume",
    );
  }
  if (profile === "sysbox" && spec.hostUsers === true) {
    say(
      at("hostUsers"),
      "the sysbox profile runs the Pod in a user namespace (hostUsers: false): that is what makes its dind safe without privileged",
    );
  }

  for (const [index, volume] of namedItems(spec, "volumes", path, problems)) {
    if (OWN_VOLUMES.includes(volume.name)) {
      say(
        at("volumes", index, "name"),
        `a volume name of dind-k8s's own (${OWN_VOLUMES.join(", ")}): give yours another name`,
      );
    }
  }
  for (const list of ["initContainers", "containers"] as const) {
    for (const [index, container] of namedItems(spec, list, path, problems)) {
      checkContainer(container, [...path, "spec", list, index], list, problems);
    }
  }
}

/** The items of a list of named mappings (volumes, containers), reporting those that aren't. */
function namedItems(
  spec: Raw,
  key: string,
  path: PathSegment[],
  problems: Problem[],
): [number, Raw & { name: string }][] {
  const value = spec[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push({ path: [...path, "spec", key], message: "expected a list of mappings, each with a name" });
    return [];
  }
  const items: [number, Raw & { name: string }][] = [];
  value.forEach((item, index) => {
    const named = mapping(item);
    if (typeof named?.name === "string" && named.name !== "")
      items.push([index, named as Raw & { name: string }]);
    else problems.push({ path: [...path, "spec", key, index, "name"], message: "required: expected a name" });
  });
  return items;
}

function checkContainer(
  container: Raw & { name: string },
  path: PathSegment[],
  list: string,
  problems: Problem[],
) {
  const say = (at: PathSegment[], message: string) => problems.push({ path: [...path, ...at], message });
  const { name } = container;
  if (name === CONTAINER.externals) {
    say(
      ["name"],
      "the name of dind-k8s's own init container (it copies the runner's externals): give yours another name",
    );
    return;
  }
  if (name === CONTAINER.runner && list === "initContainers") {
    say(["name"], "runner is the Pod's main container: put it in containers");
    return;
  }
  if (name !== CONTAINER.runner && name !== CONTAINER.dind) return;
  for (const [field, why] of Object.entries(OWNED_FIELDS[name])) {
    if (container[field] !== undefined) say([field], `set by dind-k8s: ${why}`);
  }
  const env = Array.isArray(container.env) ? container.env : [];
  env.forEach((item, index) => {
    const variable = mapping(item)?.name;
    if (typeof variable !== "string") return;
    const why =
      name === CONTAINER.runner
        ? RUNNER_ENV_WHY[variable]
        : variable.startsWith(DIND_ENV_PREFIX)
          ? "dind-k8s's start script reads the variables of this prefix"
          : undefined;
    if (why) say(["env", index, "name"], `${JSON.stringify(variable)} is set by dind-k8s: ${why}`);
  });
  const mounts = Array.isArray(container.volumeMounts) ? container.volumeMounts : [];
  mounts.forEach((item, index) => {
    const volume = mapping(item)?.name;
    if (typeof volume === "string" && OWN_VOLUMES.includes(volume)) {
      say(
        ["volumeMounts", index, "name"],
        `dind-k8s mounts its own volume ${JSON.stringify(volume)} here itself`,
      );
    }
  });
}
