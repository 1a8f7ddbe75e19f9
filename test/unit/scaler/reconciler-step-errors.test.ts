// A step that fails for every Pod (the apiserver or GitHub down) is counted per failure and logged once per pass,
// with how many times: during an apiserver restart the bench's two replicas wrote 433 release errors in 20 s.
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import type { RunnerPods } from "../../../src/scaler/kube/runner-pods.ts";
import type { Logger } from "../../../src/scaler/observe/log.ts";
import { createMetrics } from "../../../src/scaler/observe/metrics.ts";
import { DEFAULT_RECONCILER_TIMING, Reconciler } from "../../../src/scaler/reconcile/reconciler.ts";
import { buildRunnerPod } from "../../../src/scaler/runner-pod/build-runner-pod.ts";
import { unreachableGitHub } from "../../helpers/github-unreachable.ts";

const config = parseConfig(
  [
    "github: { org: o, auth: { appId: 1, privateKeyFile: /k.pem }, webhookSecretFile: /s }",
    "kubernetes: { namespace: runners }",
    "runnerSets: [{ name: dind-k8s, labels: [dind-k8s], maxRunners: 10, minIdle: 0 }]",
  ].join("\n"),
  "test.yaml",
);
const set = config.runnerSets[0]!;

function gatedJobPod(jobId: number): V1Pod {
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
  };
  return pod;
}

describe("reconcile step errors", () => {
  it("are counted each and logged once per step and pass, with the first error and how many times", async () => {
    const cached = [1, 2, 3, 4, 5].map(gatedJobPod);
    const pods = {
      onChange: () => () => {},
      cached: () => cached,
      cachedPod: (name: string) => cached.find((pod) => pod.metadata?.name === name),
      secretExists: async () => false,
    } as unknown as RunnerPods;
    const errors: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (message, fields) => errors.push({ message, fields }),
    };
    const metrics = createMetrics({ processMetrics: false });
    const reconciler = new Reconciler({
      runnerSets: [set],
      runnerGroup: undefined,
      pods,
      // Every release fails at its first GitHub call.
      github: unreachableGitHub,
      podFor: () => ({}),
      log,
      metrics,
      timing: { ...DEFAULT_RECONCILER_TIMING, resyncMs: 60_000 },
    });
    // Started (a stopped reconciler releases nothing): its first pass runs at once, the next one a minute later.
    reconciler.start();
    while (reconciler.passes < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    await reconciler.stop();
    const released = errors.filter((line) => line.message === "reconcile step release failed");
    expect(released).toHaveLength(1);
    expect(released[0]!.fields).toMatchObject({ runnerSet: "dind-k8s", times: 5 });
    expect(String(released[0]!.fields?.error)).toContain("GitHub is not reachable in this test");
    const counted = (await metrics.reconcileErrors.get()).values.find(
      (value) => value.labels.step === "release",
    );
    expect(counted?.value).toBe(5);
  });
});
