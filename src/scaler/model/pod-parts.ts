// The parts of a runner Pod that are dind-k8s's: its containers' and volumes' names and the environment it sets.
// A runner set's own Pod template may use any other name; the configuration rules refuse these, the builder
// fills them in. One place, so the rules and the builder can't disagree about what is ours.

/** Containers a template may name: `runner` and `dind` are ours to complete, `init-externals` is ours alone. */
export const CONTAINER = {
  runner: "runner",
  dind: "dind",
  externals: "init-externals",
} as const;

export const VOLUME = {
  work: "work",
  externals: "externals",
  socket: "dind-sock",
  storage: "dind-storage",
  loop: "dind-loop",
  lifecycle: "dind-k8s-lifecycle",
} as const;

/** The runner's environment that dind-k8s sets: its JIT registration, the daemon's socket, the legacy stop file. */
export const RUNNER_ENV = {
  jitConfig: "ACTIONS_RUNNER_INPUT_JITCONFIG",
  dockerHost: "DOCKER_HOST",
  stopFile: "DIND_K8S_STOP_FILE",
} as const;

/** Every variable of the dind container's that dind-k8s sets starts with this (the start script reads them). */
export const DIND_ENV_PREFIX = "DIND_K8S_";
