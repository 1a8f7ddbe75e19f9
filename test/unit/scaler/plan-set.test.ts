import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ANNOTATIONS, LABELS, SCHEDULING_GATE } from "../../../src/scaler/model/keys.ts";
import { type PlanInput, planSet } from "../../../src/scaler/plan/plan-set.ts";
import { viewPod } from "../../../src/scaler/plan/pod-view.ts";

const NOW = new Date("2026-11-22T12:00:00Z");
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

interface PodSpec {
  name: string;
  kind?: "job" | "warm";
  gated?: boolean;
  jobState?: "started" | "done";
  busy?: boolean;
  phase?: string;
  createdMinutesAgo?: number;
  releasedMinutesAgo?: number;
  runnerExited?: boolean;
  deleting?: boolean;
}

function pod(spec: PodSpec): V1Pod {
  const labels: Record<string, string> = { [LABELS.kind]: spec.kind ?? "job", [LABELS.runnerSet]: "dind" };
  if (spec.jobState) labels[LABELS.jobState] = spec.jobState;
  const annotations: Record<string, string> = {};
  if (spec.busy) annotations[ANNOTATIONS.busyWith] = "42";
  if (spec.releasedMinutesAgo !== undefined) {
    annotations[ANNOTATIONS.releasedAt] = minutesAgo(spec.releasedMinutesAgo).toISOString();
    annotations[ANNOTATIONS.runnerId] = "7";
  }
  return {
    metadata: {
      name: spec.name,
      uid: `uid-${spec.name}`,
      labels,
      annotations,
      creationTimestamp: minutesAgo(spec.createdMinutesAgo ?? 1),
      ...(spec.deleting ? { deletionTimestamp: NOW } : {}),
    },
    spec: {
      containers: [{ name: "runner" }],
      ...(spec.gated === false || spec.releasedMinutesAgo !== undefined
        ? {}
        : { schedulingGates: [{ name: SCHEDULING_GATE }] }),
    },
    status: {
      phase: spec.phase ?? "Pending",
      ...(spec.runnerExited
        ? {
            containerStatuses: [
              {
                name: "runner",
                image: "",
                imageID: "",
                ready: false,
                restartCount: 0,
                state: { terminated: { exitCode: 0 } },
              },
            ],
          }
        : {}),
    },
  };
}

function plan(pods: PodSpec[], overrides: Partial<PlanInput> = {}) {
  const result = planSet({
    views: pods.map((spec) => viewPod(pod(spec))),
    maxRunners: 3,
    minIdle: 0,
    now: NOW,
    tombstoneTtlMs: 60 * 60_000,
    pendingDeadlineMs: 10 * 60_000,
    idleGraceMs: 60_000,
    mayRelease: true,
    ...overrides,
  });
  const names = (views: { name: string }[]) => views.map((view) => view.name);
  return {
    release: names(result.release),
    surplus: names(result.surplus),
    finished: names(result.finished),
    stuck: names(result.stuck),
    expiredTombstones: names(result.expiredTombstones),
    warmToCreate: result.warmToCreate,
  };
}

describe("viewPod", () => {
  it.each([
    [{ name: "a" }, "queued"],
    [{ name: "a", jobState: "done" as const }, "tombstone"],
    [{ name: "a", releasedMinutesAgo: 1 }, "idle"],
    [{ name: "a", releasedMinutesAgo: 1, busy: true, phase: "Running" }, "busy"],
    [{ name: "a", releasedMinutesAgo: 1, phase: "Succeeded" }, "finished"],
    [{ name: "a", releasedMinutesAgo: 1, phase: "Running", runnerExited: true }, "finished"],
    [{ name: "a", releasedMinutesAgo: 1, deleting: true, phase: "Succeeded" }, "terminating"],
  ])("%o is %s", (spec, state) => {
    expect(viewPod(pod(spec)).state).toBe(state);
  });
});

describe("planSet", () => {
  it("releases queued job Pods oldest first, up to maxRunners", () => {
    const result = plan([
      { name: "j4", createdMinutesAgo: 1 },
      { name: "j1", createdMinutesAgo: 4 },
      { name: "j3", createdMinutesAgo: 2 },
      { name: "j2", createdMinutesAgo: 3 },
      { name: "busy", releasedMinutesAgo: 5, busy: true, phase: "Running", jobState: "started" },
    ]);
    expect(result.release).toEqual(["j1", "j2"]);
    expect(result.warmToCreate).toBe(0);
    expect(result.surplus).toEqual([]);
  });

  it("releases nothing while the set backs off", () => {
    expect(plan([{ name: "j1" }], { mayRelease: false }).release).toEqual([]);
  });

  it("keeps minIdle warm runners, but never more than could run", () => {
    expect(plan([], { minIdle: 2 }).warmToCreate).toBe(2);
    expect(plan([], { minIdle: 5 }).warmToCreate).toBe(3);
    expect(plan([{ name: "w1", kind: "warm", releasedMinutesAgo: 1 }], { minIdle: 2 }).warmToCreate).toBe(1);
  });

  it("counts a waiting job against the idle runner that will take it", () => {
    // One idle warm runner, one job Pod queued for a job the warm runner will take: minIdle 1 still holds
    // once the job's Pod is released, so nothing extra is created.
    const result = plan(
      [
        { name: "w1", kind: "warm", releasedMinutesAgo: 3 },
        { name: "j1", createdMinutesAgo: 0 },
      ],
      { minIdle: 1 },
    );
    expect(result.warmToCreate).toBe(0);
    expect(result.surplus).toEqual([]);
    expect(result.release).toEqual(["j1"]);
  });

  it("removes an idle runner when a job was cancelled after its Pod was released", () => {
    const result = plan([
      { name: "j1", releasedMinutesAgo: 3, jobState: "done", phase: "Running" },
      { name: "j2", releasedMinutesAgo: 3, jobState: "started", busy: true, phase: "Running" },
    ]);
    expect(result.surplus).toEqual(["j1"]);
  });

  it("leaves a just-released idle runner alone: its job's in_progress may still be on the way", () => {
    expect(plan([{ name: "j1", releasedMinutesAgo: 0.5, jobState: "done" }]).surplus).toEqual([]);
  });

  it("prefers gated warm Pods and gated Pods of jobs another runner took as surplus", () => {
    const result = plan([
      { name: "w1", kind: "warm", createdMinutesAgo: 2 },
      { name: "j1", jobState: "started" },
      { name: "w2", kind: "warm", releasedMinutesAgo: 5, phase: "Running" },
    ]);
    expect(result.surplus).toEqual(["w1", "j1", "w2"]);
    expect(result.release).toEqual([]);
  });

  it("never releases a tombstone and expires it after the TTL", () => {
    const result = plan([
      { name: "t-old", jobState: "done", createdMinutesAgo: 61 },
      { name: "t-new", jobState: "done", createdMinutesAgo: 5 },
    ]);
    expect(result.release).toEqual([]);
    expect(result.expiredTombstones).toEqual(["t-old"]);
  });

  it("finds finished and stuck Pods, and stuck ones free their slot", () => {
    const result = plan([
      { name: "done", releasedMinutesAgo: 20, phase: "Succeeded", jobState: "started", busy: true },
      { name: "exited", releasedMinutesAgo: 20, phase: "Running", runnerExited: true, busy: true },
      { name: "stuck", releasedMinutesAgo: 11, phase: "Pending" },
      { name: "slow", releasedMinutesAgo: 9, phase: "Pending" },
      { name: "j1", createdMinutesAgo: 2 },
      { name: "j2", createdMinutesAgo: 1 },
    ]);
    expect(result.finished).toEqual(["done", "exited"]);
    expect(result.stuck).toEqual(["stuck"]);
    // slots: 3 - active(slow) = 2
    expect(result.release).toEqual(["j1", "j2"]);
  });
});
