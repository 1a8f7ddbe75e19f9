// The dind container: dockerd on the Pod's unix socket (never TCP), the start script that sets MTU, loop disk and
// stop file, the security context of each runtime profile, and the startup probe the runner waits on. Pure.
import type { V1Container, V1EnvVar, V1SecurityContext } from "@kubernetes/client-node";
import { DEFAULT_DIND_IMAGE, DEFAULT_DIND_ROOTLESS_IMAGE } from "../config/defaults.ts";
import type { RunnerSet, Storage } from "../config/schema.ts";
import { quantityToBytes } from "../model/quantity.ts";
import { type DaemonLayout, LOOP_DIR, ROOTLESS_UID } from "./layout.ts";
import { dindResources } from "./resources.ts";
import { DIND_START_SCRIPT } from "./scripts.ts";

export function dindContainer(
  set: RunnerSet,
  storage: Storage,
  layout: DaemonLayout,
  stopFile: string | undefined,
): V1Container {
  const profile = set.runtime.profile;
  const dockerdArgs = [
    "dockerd",
    `--host=unix://${layout.socketPath}`,
    // Rootless: the daemon runs as the rootless user with the runner's docker gid; --group can't name a group
    // inside its user namespace, and the socket already belongs to that gid.
    ...(profile === "rootless" ? [] : [`--group=${set.runner.dockerGid}`]),
    ...set.dind.registryMirrors.map((mirror) => `--registry-mirror=${mirror}`),
    ...set.dind.args,
  ];
  const env: V1EnvVar[] = [{ name: "DIND_K8S_MTU", value: String(set.dind.mtu) }];
  if (storage.type === "loopDisk") {
    env.push(
      { name: "DIND_K8S_LOOP_IMAGE", value: `${LOOP_DIR}/docker.img` },
      { name: "DIND_K8S_LOOP_BYTES", value: String(quantityToBytes(storage.size)) },
      { name: "DIND_K8S_DATA_ROOT", value: layout.dataRoot },
    );
  }
  if (stopFile) env.push({ name: "DIND_K8S_STOP_FILE", value: stopFile });

  const securityContext: V1SecurityContext =
    profile === "sysbox"
      ? {}
      : profile === "rootless"
        ? // The dind-rootless image still needs privileged for its user namespace and mounts (image docs).
          { privileged: true, runAsUser: ROOTLESS_UID, runAsGroup: set.runner.dockerGid }
        : { privileged: true };

  const container: V1Container = {
    name: "dind",
    image: set.dind.image ?? (profile === "rootless" ? DEFAULT_DIND_ROOTLESS_IMAGE : DEFAULT_DIND_IMAGE),
    ...pullPolicy(set.dind.imagePullPolicy),
    command: ["/bin/sh", "-c", DIND_START_SCRIPT, "dind"],
    args: dockerdArgs,
    env,
    securityContext,
    // The runner starts only once the daemon answers on its socket (native sidecars gate on this probe).
    startupProbe: {
      exec: { command: ["docker", `--host=unix://${layout.socketPath}`, "version"] },
      periodSeconds: 1,
      timeoutSeconds: 5,
      failureThreshold: 180,
    },
    resources: dindResources(set, storage),
  };
  if (!stopFile) container.restartPolicy = "Always";
  return container;
}

export function pullPolicy(policy: string | undefined): { imagePullPolicy?: string } {
  return policy ? { imagePullPolicy: policy } : {};
}
