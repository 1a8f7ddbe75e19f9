// Finished runners are removed a few at a time, as releases are: after a burst hundreds finish together, and one
// by one (each a Pod and a Secret delete) they held the pass, and the releases behind it, for seconds.
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import type { RunnerPods } from "../../../src/scaler/kube/runner-pods.ts";
import { ANNOTATIONS, LABELS } from "../../../src/scaler/model/keys.ts";
import { silentLogger } from "../../../src/scaler/observe/log.ts";
import { createMetrics } from "../../../src/scaler/observe/metrics.ts";
import { DEFAULT_RECONCILER_TIMING, Reconciler } from "../../../src/scaler/reconcile/reconciler.ts";
import { buildRunnerPod } from "../../../src/scaler/runner-pod/build-runner-pod.ts";
import { unreachableGitHub } from "../../helpers/github-unreachable.ts";

const config = parseConfig(
  [
    "github: { org: o, auth: { appId: 1, privateKeyFile: /k.pem }, webhookSecretFile: /s }",
    "kubernetes: { namespace: runners }",
    "runnerSets: [{ name: dind-k8s, labels: [dind-k8s], maxRunners: 100, minIdle: 0 }]",
  ].join("\n"),
  "test.yaml",
);
const set = config.runnerSets[0]!;

/** A job Pod whose runner ran its job and exited. */
function finishedJobPod(jobId: number): V1Pod {
  const { pod } = buildRunnerPod(
    set,
    { kind: "job", jobId, runAttempt: 1 },
    { namespace: "runners", sidecars: "native" },
  );
  pod.metadata = {
    ...pod.metadata,
    uid: `uid-${jobId}`,
    resourceVersion: "1",
    creationTimestamp: new Date(),
    labels: { ...pod.metadata?.labels, [LABELS.jobState]: "done" },
    annotations: { ...pod.metadata?.annotations, [ANNOTATIONS.busyWith]: String(jobId) },
  };
  pod.spec = { ...pod.spec!, schedulingGates: [] };
  pod.status = { phase: "Succeeded" };
  return pod;
}

describe("removing finished runners", () => {
  it("deletes several at once, and no more than releaseConcurrency", async () => {
    const cached = Array.from({ length: 40 }, (_, i) => finishedJobPod(i + 1));
    let inFlight = 0;
    let most = 0;
    const deleted: string[] = [];
    const slowly = async (name: string) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      deleted.push(name);
    };
    const pods = {
      onChange: () => () => {},
      cached: () => cached.filter((pod) => !deleted.includes(pod.metadata!.name!)),
      cachedPod: (name: string) => cached.find((pod) => pod.metadata?.name === name),
      delete: (name: string) => slowly(name),
      deleteSecret: async () => {},
      secretExists: async () => false,
    } as unknown as RunnerPods;
    const reconciler = new Reconciler({
      runnerSets: [set],
      runnerGroup: undefined,
      pods,
      github: unreachableGitHub,
      podFor: () => ({}),
      log: silentLogger,
      metrics: createMetrics({ processMetrics: false }),
      timing: { ...DEFAULT_RECONCILER_TIMING, resyncMs: 60_000, releaseConcurrency: 8 },
    });
    reconciler.start();
    while (reconciler.passes < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    await reconciler.stop();
    expect(deleted).toHaveLength(40);
    expect(most).toBe(8);
  });
});
