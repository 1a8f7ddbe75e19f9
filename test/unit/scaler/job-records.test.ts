import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import type { RunnerPods } from "../../../src/scaler/kube/runner-pods.ts";
import { ANNOTATIONS, LABELS } from "../../../src/scaler/model/keys.ts";
import { planSet } from "../../../src/scaler/plan/plan-set.ts";
import { viewPod } from "../../../src/scaler/plan/pod-view.ts";
import { createJobRecords } from "../../../src/scaler/records/job-records.ts";
import { runnerPodName } from "../../../src/scaler/runner-pod/names.ts";
import type { WorkflowJobEvent } from "../../../src/scaler/webhook/workflow-job.ts";

const fixture = join(import.meta.dirname, "../../fixtures/config/minimal.yaml");
const config = parseConfig(readFileSync(fixture, "utf8"), fixture);
const NOW = Date.parse("2026-12-01T12:00:00Z");

/** A released runner Pod (gate gone, registered), as the Pod cache holds it. */
function released(name: string, kind: "job" | "warm"): V1Pod {
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      labels: { [LABELS.kind]: kind, [LABELS.runnerSet]: "dind-k8s" },
      annotations: {
        [ANNOTATIONS.releasedAt]: new Date(NOW - 60_000).toISOString(),
        [ANNOTATIONS.runnerId]: "7",
      },
      creationTimestamp: new Date(NOW - 120_000),
    },
    spec: { containers: [{ name: "runner" }] },
    status: { phase: "Running" },
  };
}

/** Pods in a Map; every metadata write is followed by a reconcile plan over what is stored at that moment. */
function podsRecordingPlans(stored: Map<string, V1Pod>, minIdle: number) {
  const plans: { after: string; warmToCreate: number }[] = [];
  const write = (name: string, metadata: { labels?: object; annotations?: object }) => {
    const pod = stored.get(name);
    if (!pod) return false;
    // A new object, as the watch delivers one per change.
    stored.set(name, {
      ...pod,
      metadata: {
        ...pod.metadata,
        labels: { ...pod.metadata?.labels, ...metadata.labels },
        annotations: { ...pod.metadata?.annotations, ...metadata.annotations },
      },
    });
    const plan = planSet({
      views: [...stored.values()].map(viewPod),
      maxRunners: 10,
      minIdle,
      now: new Date(NOW),
      tombstoneTtlMs: 600_000,
      pendingDeadlineMs: 600_000,
      idleGraceMs: 30_000,
      mayRelease: true,
    });
    plans.push({ after: name, warmToCreate: plan.warmToCreate });
    return true;
  };
  const pods = {
    namespace: "dind-runners",
    onChange: () => {},
    patchMetadata: async (name: string, metadata: { labels?: object; annotations?: object }) =>
      write(name, metadata),
    markJobStarted: async (name: string, annotations: Record<string, string> = {}) =>
      write(name, { labels: { [LABELS.jobState]: "started" }, annotations }),
    cachedPod: (name: string) => stored.get(name),
  } as unknown as RunnerPods;
  return { pods, plans };
}

const job = (runnerName: string, runnerId: number | null = null): WorkflowJobEvent => ({
  action: "in_progress",
  jobId: 801,
  runId: 9,
  runAttempt: 1,
  labels: ["dind-k8s"],
  repository: "my-org/app",
  installationId: undefined,
  workflowName: undefined,
  runnerName,
  runnerId,
  conclusion: null,
});

describe("recordStarted", () => {
  it("a warm runner taking a job never looks like a missing runner between its two writes", async () => {
    // Two warm runners for minIdle 2, and the Pod released for job 801; the warm one takes the job.
    // Were the warm runner marked busy before job 801 stopped waiting, a reconcile in between would see
    // 3 runners wanted (1 waiting job + minIdle 2) and 2 offered, and create a warm runner at once — a
    // deficit is acted on immediately, while a surplus waits idleGraceMs — leaving one runner too many
    // (seen in a CI run of the lifecycle test).
    const jobPod = runnerPodName("dind-k8s", {
      kind: "job",
      jobId: 801,
      runId: 9,
      runAttempt: 1,
      repository: "my-org/app",
    });
    const stored = new Map<string, V1Pod>([
      ["dind-k8s-warm-a", released("dind-k8s-warm-a", "warm")],
      ["dind-k8s-warm-b", released("dind-k8s-warm-b", "warm")],
      [jobPod, released(jobPod, "job")],
    ]);
    const { pods, plans } = podsRecordingPlans(stored, 2);
    await createJobRecords({ config, pods, sidecars: "native" }).recordStarted(
      "dind-k8s",
      job("dind-k8s-warm-a"),
    );

    expect(plans.map((plan) => plan.after).sort()).toEqual([jobPod, "dind-k8s-warm-a"].sort());
    expect(plans).toEqual(plans.map((plan) => ({ ...plan, warmToCreate: 0 })));
    expect(stored.get("dind-k8s-warm-a")?.metadata?.annotations?.[ANNOTATIONS.busyWith]).toBe("801");
    expect(stored.get(jobPod)?.metadata?.labels?.[LABELS.jobState]).toBe("started");
  });

  it("a late in_progress of an earlier runner of the same name leaves the Pod's current runner idle", async () => {
    // The runner Pod dind-k8s-warm-a now runs runner 7 (released()); runner 3, an earlier one of that name, took
    // job 801 before an outage and its in_progress arrives only now, redelivered.
    const jobPod = runnerPodName("dind-k8s", {
      kind: "job",
      jobId: 801,
      runAttempt: 1,
      repository: "my-org/app",
    });
    const stored = new Map<string, V1Pod>([
      ["dind-k8s-warm-a", released("dind-k8s-warm-a", "warm")],
      [jobPod, released(jobPod, "job")],
    ]);
    const { pods } = podsRecordingPlans(stored, 0);
    const records = createJobRecords({ config, pods, sidecars: "native" });
    await records.recordStarted("dind-k8s", job("dind-k8s-warm-a", 3));
    // The job no longer waits; the idle runner is not marked busy (it would never be taken away).
    expect(stored.get(jobPod)?.metadata?.labels?.[LABELS.jobState]).toBe("started");
    expect(stored.get("dind-k8s-warm-a")?.metadata?.annotations?.[ANNOTATIONS.busyWith]).toBeUndefined();
    // The current runner's own event marks it busy.
    await records.recordStarted("dind-k8s", job("dind-k8s-warm-a", 7));
    expect(stored.get("dind-k8s-warm-a")?.metadata?.annotations?.[ANNOTATIONS.busyWith]).toBe("801");
  });
});
