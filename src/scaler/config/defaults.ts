// Pinned defaults. A bump is a one-line change here plus a rebuilt dist/ and a regenerated values.schema.json.

/** https://github.com/actions/runner/blob/main/src/runnerversion (v2.336.0). */
export const DEFAULT_RUNNER_IMAGE = "ghcr.io/actions/actions-runner:2.336.0";

/** docker-library/docker versions.json, major 29. `dockerd` as the first argument skips the image's TLS/TCP setup. */
export const DEFAULT_DIND_IMAGE = "docker:29.7.2-dind";
export const DEFAULT_DIND_ROOTLESS_IMAGE = "docker:29.7.2-dind-rootless";

/**
 * actions/runner images/Dockerfile: `groupadd docker --gid 123`, runner is uid 1001 in that group. dockerd hands
 * its socket to this group so the runner can use it without root.
 */
export const DEFAULT_RUNNER_DOCKER_GID = 123;

/** The runner image's home: `_work` and `externals` live here and are mounted at the same paths in dind. */
export const DEFAULT_RUNNER_HOME = "/home/runner";

export const DEFAULT_RUNTIME_CLASS = { kata: "kata", sysbox: "sysbox-runc" } as const;

export const DEFAULT_LOOP_DISK_SIZE = "20Gi";

/** A runner set's backlog bound when `maxQueued` is not set: this many queued jobs per runner it may run. */
export const DEFAULT_QUEUED_PER_RUNNER = 20;

/**
 * Resources of the runner and dind containers when a set names none (each resource name separately: a set that
 * sets only cpu keeps these memory and ephemeral-storage values). No CPU limits: throttling a build only makes it
 * slower. Memory and ephemeral-storage limits bound what one job can take from its node.
 */
export const DEFAULT_RESOURCES = {
  runner: {
    requests: { cpu: "250m", memory: "512Mi", "ephemeral-storage": "1Gi" },
    limits: { memory: "4Gi", "ephemeral-storage": "20Gi" },
  },
  dind: {
    requests: { cpu: "250m", memory: "512Mi", "ephemeral-storage": "5Gi" },
    limits: { memory: "8Gi", "ephemeral-storage": "10Gi" },
  },
} as const;

/** DEFAULT_RESOURCES in words, for the schema's description (and so the chart's README). */
export function describeDefaultResources(): string {
  const list = (values: Record<string, string>) =>
    Object.entries(values)
      .map(([name, value]) => `${name} ${value}`)
      .join(", ");
  const container = (name: keyof typeof DEFAULT_RESOURCES) =>
    `${name} requests ${list(DEFAULT_RESOURCES[name].requests)}, limits ${list(DEFAULT_RESOURCES[name].limits)}`;
  return `${container("runner")}; ${container("dind")} plus the Docker data emptyDir's sizeLimit or loop disk's size (the kubelet charges those to the Pod); no CPU limit`;
}

/**
 * sizeLimit of the emptyDir that holds /var/lib/docker when a set's storage names none: past it, the kubelet
 * evicts the Pod instead of letting one job fill the node's disk.
 */
export const DEFAULT_DOCKER_SIZE_LIMIT = "40Gi";

/** The runner image's user (actions/runner images/Dockerfile: `adduser --uid 1001 runner`). */
export const DEFAULT_RUNNER_UID = 1001;
