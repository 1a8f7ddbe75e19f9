// Where things are in a runner Pod: the runner image's directories, the daemon's socket and data root per image
// variant, and the names of the Pod's volumes. The builder, the storage options and the cache claim share these.
import { DEFAULT_RUNNER_HOME } from "../config/defaults.ts";
import type { RunnerSet } from "../config/schema.ts";
import { VOLUME } from "../model/pod-parts.ts";

// The actions-runner image's layout (images/Dockerfile: WORKDIR /home/runner).
export const RUNNER_HOME = DEFAULT_RUNNER_HOME;
/** The runner's work folder, relative to its home: what its JIT registration names, where the Pod mounts it. */
export const WORK_FOLDER = "_work";
export const WORK_DIR = `${RUNNER_HOME}/${WORK_FOLDER}`;
export const EXTERNALS_DIR = `${RUNNER_HOME}/externals`;
export const EXTERNALS_COPY_DIR = "/dind-k8s/externals";
export const LIFECYCLE_DIR = "/dind-k8s/lifecycle";
export const LOOP_DIR = "/dind-k8s/loop";

/** Where the daemon keeps its socket and data, per image variant (docker-library/docker dockerd-entrypoint.sh). */
export interface DaemonLayout {
  socketDir: string;
  socketPath: string;
  dataRoot: string;
}
const ROOTFUL: DaemonLayout = {
  socketDir: "/var/run",
  socketPath: "/var/run/docker.sock",
  dataRoot: "/var/lib/docker",
};
// dind-rootless runs as uid 1000 ("rootless"): XDG_RUNTIME_DIR=/run/user/1000, data in ~/.local/share/docker.
export const ROOTLESS_UID = 1000;
const ROOTLESS: DaemonLayout = {
  socketDir: `/run/user/${ROOTLESS_UID}`,
  socketPath: `/run/user/${ROOTLESS_UID}/docker.sock`,
  dataRoot: "/home/rootless/.local/share/docker",
};

/** The daemon's data root in the dind container of a runtime profile. */
export function dataRootFor(profile: RunnerSet["runtime"]["profile"]): string {
  return profile === "rootless" ? ROOTLESS.dataRoot : ROOTFUL.dataRoot;
}

export { VOLUME };

/** The volume holding the daemon's data root (emptyDir, tmpfs, an ephemeral claim, or a cache claim). */
export const STORAGE_VOLUME = VOLUME.storage;

/** The daemon's socket and data root for a runtime profile's dind image. */
export function daemonLayoutFor(profile: RunnerSet["runtime"]["profile"]): DaemonLayout {
  return profile === "rootless" ? ROOTLESS : ROOTFUL;
}
