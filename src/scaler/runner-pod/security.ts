// What keeps a runner Pod from being turned against its node: the dind container listens on its unix socket only.
// Pure; the builder calls it on the finished Pod, so whatever was merged into the dind container is checked too.
import type { V1Pod } from "@kubernetes/client-node";
import { refusedDaemonArgs, refusedDaemonEnv } from "../config/daemon-listeners.ts";

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
