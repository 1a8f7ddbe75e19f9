// `check-config --server` and the scaler at start: each runner set's Pod and Secret, as the scaler would create
// them for a job, sent to the apiserver as a dry run (kube/dry-run.ts). One line per refusal, naming the set.
import type { Config } from "./config/load.ts";
import { describeKubeError } from "./kube/api-error.ts";
import type { KubeClient } from "./kube/client.ts";
import { dryRunCreate } from "./kube/dry-run.ts";
import { KubeConfigError, loadKubeClient } from "./kube/load.ts";
import { serverVersion } from "./kube/server-version.ts";
import { type SidecarMode, sidecarModeFor } from "./model/sidecar-mode.ts";
import { buildRunnerPod } from "./runner-pod/build-runner-pod.ts";
import { SPEC_HASH_TARGET } from "./runner-pod/spec-hash.ts";

/** What the apiserver refuses of the configuration's runner Pods, one line each; empty when it takes them all. */
export async function checkOnServer(
  config: Config,
  kube: KubeClient,
  sidecars: SidecarMode,
): Promise<string[]> {
  const namespace = config.kubernetes.namespace;
  const problems: string[] = [];
  for (const set of config.runnerSets) {
    const objects = buildRunnerPod(set, SPEC_HASH_TARGET, { namespace, sidecars });
    for (const refusal of await dryRunCreate(kube, namespace, objects)) {
      problems.push(`runnerSets ${set.name}: the apiserver refuses its ${refusal.kind}: ${refusal.message}`);
    }
  }
  return problems;
}

export type ServerCheckOutcome =
  | { kind: "checked"; source: string; sidecars: SidecarMode; problems: string[] }
  | { kind: "unreachable"; message: string };

/** check-config --server: the credentials as serve finds them, the sidecar mode the cluster gets, the dry runs. */
export async function checkConfigOnServer(
  config: Config,
  kubeconfig: string | undefined,
): Promise<ServerCheckOutcome> {
  let kube: KubeClient;
  try {
    kube = loadKubeClient(kubeconfig);
  } catch (error: unknown) {
    if (error instanceof KubeConfigError) return { kind: "unreachable", message: error.message };
    throw error;
  }
  try {
    const setting = config.kubernetes.sidecars;
    const sidecars = sidecarModeFor(setting, setting === "auto" ? await serverVersion(kube) : undefined);
    return {
      kind: "checked",
      source: kube.source,
      sidecars,
      problems: await checkOnServer(config, kube, sidecars),
    };
  } catch (error: unknown) {
    return { kind: "unreachable", message: describeKubeError(error) };
  } finally {
    await kube.close();
  }
}
