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
