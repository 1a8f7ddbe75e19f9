// What keeps a runner Pod from being turned against its node: the dind container listens on its unix socket only
// (checked on the finished Pod, so whatever was merged into dind is checked too), and the runner and init
// containers run with the least the runner image allows. Pure.
import type { V1Pod, V1PodSecurityContext, V1SecurityContext } from "@kubernetes/client-node";
import { refusedDaemonArgs, refusedDaemonEnv } from "../config/daemon-listeners.ts";
import type { RunnerSet } from "../config/schema.ts";

/**
 * Throws when the dind container could listen anywhere but `socketPath`: a -H/--host or --config-file argument
 * besides the one --host dind-k8s sets, or DOCKER_HOST in its environment.
 */
export function assertDaemonOnSocket(pod: V1Pod, socketPath: string): void {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const dind = all.find((container) => container.name === "dind");
  if (!dind) throw new Error("the runner Pod has no dind container");
  const own = `--host=unix://${socketPath}`;
  const args = [...(dind.args ?? [])];
  const ownIndex = args.indexOf(own);
  if (ownIndex >= 0) args.splice(ownIndex, 1);
  const problems = [
    ...refusedDaemonArgs(args).map((problem) => `args: ${problem.message}`),
    ...refusedDaemonEnv((dind.env ?? []).map((variable) => variable.name)).map(
      (problem) => `env: ${problem.message}`,
    ),
  ];
  if (problems.length > 0) throw new Error(`the dind container ${problems.join("; ")}`);
}

const RUNTIME_DEFAULT_SECCOMP = { type: "RuntimeDefault" } as const;

/**
 * The Pod's own securityContext. seccomp RuntimeDefault for the whole Pod wherever dind is privileged (kata,
 * privileged and rootless): the runtime never filters a privileged container ("Privileged containers always run as
 * Unconfined", Kubernetes' seccomp docs), so only the runner and init-externals are filtered, as they should be.
 * Under sysbox dind isn't privileged, so a Pod-level profile would filter its dockerd, which mounts and unshares
 * inside the sysbox container; sysbox-runc brings its own seccomp handling for that, so the profile is set on the
 * runner and init-externals only and dind's is left to the runtime. Rootless also gets fsGroup: the runner's docker group owns a claim's root.
 */
export function podSecurityContext(set: RunnerSet): V1PodSecurityContext | undefined {
  const profile = set.runtime.profile;
  const context: V1PodSecurityContext = {
    ...(profile === "sysbox" ? {} : { seccompProfile: RUNTIME_DEFAULT_SECCOMP }),
    ...(profile === "rootless" ? { fsGroup: set.runner.dockerGid } : {}),
  };
  return Object.keys(context).length > 0 ? context : undefined;
}

/**
 * The runner container: the image's user by number (runAsNonRoot can't check a user name), no privilege
 * escalation and no capabilities. `runner.sudo: true` keeps what sudo needs: privilege escalation (sudo is
 * setuid root, which no_new_privs disables) and the runtime's default capabilities (root under sudo chowns and
 * overrides file modes; with none dropped it is root in the container, which the Pod's isolation must bound).
 */
export function runnerSecurityContext(set: RunnerSet): V1SecurityContext {
  const seccomp = set.runtime.profile === "sysbox" ? { seccompProfile: RUNTIME_DEFAULT_SECCOMP } : {};
  const user = { runAsNonRoot: true, runAsUser: set.runner.uid };
  const ours: V1SecurityContext = set.runner.sudo
    ? { ...user, allowPrivilegeEscalation: true, ...seccomp }
    : { ...user, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, ...seccomp };
  // The team's template may say more, or otherwise, field by field (the admission policy still bounds it).
  return { ...ours, ...templateRunnerSecurityContext(set) };
}

function templateRunnerSecurityContext(set: RunnerSet): V1SecurityContext | undefined {
  const containers = (set.template?.spec as { containers?: unknown } | undefined)?.containers;
  if (!Array.isArray(containers)) return undefined;
  const runner = (containers as { name?: unknown; securityContext?: unknown }[]).find(
    (container) => container?.name === "runner",
  );
  const context = runner?.securityContext;
  return context && typeof context === "object" ? (context as V1SecurityContext) : undefined;
}

/** init-externals only copies files into a volume: nothing else, whatever `runner.sudo` says. */
export function initSecurityContext(set: RunnerSet): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: set.runner.uid,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    readOnlyRootFilesystem: true,
    ...(set.runtime.profile === "sysbox" ? { seccompProfile: RUNTIME_DEFAULT_SECCOMP } : {}),
  };
}
