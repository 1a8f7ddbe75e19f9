// What a test does to the runner Pods that kwok (test/env/kwok.ts) plays the kubelet for: say that a runner's job
// is over, and wait for the phase the real scheduler and kwok's Stages bring a Pod to.
import {
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from "@kubernetes/client-node";
import { EXIT_CODE_ANNOTATION } from "../env/kwok.ts";
import { eventually } from "./eventually.ts";

/**
 * Ends a running runner as its job would end it: kwok's runner-exits Stage terminates the runner container with
 * `exitCode`, stops the dind sidecar, and the Pod completes (Succeeded for 0, Failed otherwise).
 */
export async function endRunner(
  kc: KubeConfig,
  namespace: string,
  name: string,
  exitCode = 0,
): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .patchNamespacedPod(
      { name, namespace, body: { metadata: { annotations: { [EXIT_CODE_ANNOTATION]: String(exitCode) } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
}

/** Waits until the Pod reaches `phase`; returns it. */
export function podInPhase(
  kc: KubeConfig,
  namespace: string,
  name: string,
  phase: "Running" | "Succeeded" | "Failed",
  timeoutMs = 30_000,
): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  return eventually(
    `Pod ${namespace}/${name} ${phase}`,
    async () => {
      const pod = await core.readNamespacedPod({ name, namespace });
      return pod.status?.phase === phase ? pod : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}
