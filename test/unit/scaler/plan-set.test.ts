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
  repository?: string;
}

function pod(spec: PodSpec): V1Pod {
  const labels: Record<string, string> = { [LABELS.kind]: spec.kind ?? "job", [LABELS.runnerSet]: "dind" };
  if (spec.jobState) labels[LABELS.jobState] = spec.jobState;
  const annotations: Record<string, string> = {};
  if (spec.busy) annotations[ANNOTATIONS.busyWith] = "42";
  if (spec.repository) annotations[ANNOTATIONS.repository] = spec.repository;
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
    counts: result.counts,
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
    [{ name: "a", releasedMinutesAgo: 1, phase: "Failed" }, "finished"],
  ])("%o is %s", (spec, state) => {
    expect(viewPod(pod(spec)).state).toBe(state);
  });

  it.each([
    ["the runner container still runs", { name: "runner", state: { running: {} } }],
    [
      "only the dind sidecar terminated (it restarts)",
      { name: "dind", state: { terminated: { exitCode: 1 } } },
    ],
    ["the runner has no state reported yet", { name: "runner" }],
  ])("a released, Running Pod is not finished while %s", (_why, status) => {
    const running = pod({ name: "a", releasedMinutesAgo: 1, phase: "Running" });
    running.status = {
      phase: "Running",
      containerStatuses: [{ image: "", imageID: "", ready: true, restartCount: 0, ...status }],
    };
    expect(viewPod(running).state).toBe("idle");
  });

  it("reads the runner id, the release time and whether the Pod runs", () => {
    const view = viewPod(pod({ name: "a", releasedMinutesAgo: 2, phase: "Running" }));
    expect(view).toMatchObject({
      name: "a",
      uid: "uid-a",
      kind: "job",
      runnerId: 7,
      releasedAtMs: minutesAgo(2).getTime(),
      running: true,
    });
    expect(viewPod(pod({ name: "b", releasedMinutesAgo: 2, phase: "Pending" })).running).toBe(false);
  });

  it.each(["0", "-7", "x", "1.5"])("has no runner id for a runner-id annotation of %j", (runnerId) => {
    const odd = pod({ name: "a", releasedMinutesAgo: 2 });
    odd.metadata!.annotations![ANNOTATIONS.runnerId] = runnerId;
    expect(viewPod(odd).runnerId).toBeUndefined();
  });

  it("ignores a job-state label it doesn't know: the job is still waiting", () => {
    const odd = pod({ name: "a" });
    odd.metadata!.labels![LABELS.jobState] = "bogus";
    expect(viewPod(odd).jobState).toBeUndefined();
  });

  it("a bare Pod (no metadata, spec or status) is an idle job Pod, not an exception", () => {
    expect(viewPod({})).toMatchObject({
      name: "",
      uid: undefined,
      kind: "job",
      state: "idle",
      running: false,
    });
  });

  it("keeps one view per Pod object: an unchanged Pod is not read again on every pass", () => {
    const same = pod({ name: "a" });
    expect(viewPod(same)).toBe(viewPod(same));
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
      { name: "t-ttl", jobState: "done", createdMinutesAgo: 60 },
      { name: "t-new", jobState: "done", createdMinutesAgo: 5 },
      // As old, but not a tombstone: a job still waiting for a slot is never expired.
      { name: "j-old", createdMinutesAgo: 61 },
    ]);
    expect(result.release).toEqual(["j-old"]);
    expect(result.expiredTombstones).toEqual(["t-old", "t-ttl"]);
  });

  it("counts the Pods of each state (for the metrics)", () => {
    const result = plan([
      { name: "q1" },
      { name: "q2" },
      { name: "t", jobState: "done" },
      { name: "i", releasedMinutesAgo: 0.5 },
      { name: "b", releasedMinutesAgo: 5, busy: true, phase: "Running" },
      { name: "f", releasedMinutesAgo: 5, phase: "Succeeded" },
    ]);
    expect(result.counts).toEqual({ queued: 2, tombstone: 1, idle: 1, busy: 1, finished: 1, terminating: 0 });
  });

  it("releases Pods created in the same millisecond in name order", () => {
    const result = plan(
      [
        { name: "j-c", createdMinutesAgo: 2 },
        { name: "j-a", createdMinutesAgo: 2 },
        { name: "j-d", createdMinutesAgo: 2 },
        { name: "j-b", createdMinutesAgo: 2 },
      ],
      { maxRunners: 2 },
    );
    expect(result.release).toEqual(["j-a", "j-b"]);
  });

  it("idle and busy runners both hold a slot", () => {
    const held = [
      { name: "i", releasedMinutesAgo: 0.5, phase: "Running" },
      { name: "b", releasedMinutesAgo: 5, busy: true, phase: "Running", jobState: "started" as const },
    ];
    expect(plan([...held, { name: "j1" }], { maxRunners: 2 }).release).toEqual([]);
    expect(plan([...held, { name: "j1" }], { maxRunners: 3 }).release).toEqual(["j1"]);
  });

  it("a job whose Pod finished or is being deleted waits for no runner", () => {
    // Neither in_progress nor completed came, but the Pod is gone: minIdle 0 needs no warm runner for it.
    expect(plan([{ name: "f", releasedMinutesAgo: 5, phase: "Failed" }]).warmToCreate).toBe(0);
    expect(plan([{ name: "d", releasedMinutesAgo: 5, deleting: true }]).warmToCreate).toBe(0);
  });

  it("never creates warm runners beyond maxRunners, counting active runners and queued Pods", () => {
    // maxRunners 3: one idle runner and one queued Pod leave room for one more, though minIdle 3 + 1 job wants 4.
    const result = plan(
      [
        { name: "w1", kind: "warm", releasedMinutesAgo: 0.5, phase: "Running" },
        { name: "j1", createdMinutesAgo: 1 },
      ],
      { minIdle: 3, mayRelease: false },
    );
    expect(result.warmToCreate).toBe(1);
  });

  it("removes only as many surplus Pods as are extra, oldest first", () => {
    const result = plan(
      [
        { name: "w3", kind: "warm", createdMinutesAgo: 1 },
        { name: "w1", kind: "warm", createdMinutesAgo: 3 },
        { name: "w2", kind: "warm", createdMinutesAgo: 2 },
      ],
      { minIdle: 1 },
    );
    expect(result.surplus).toEqual(["w1", "w2"]);
  });

  it("never counts a gated Pod whose job still waits as surplus, however old", () => {
    const result = plan([
      { name: "j-waiting", createdMinutesAgo: 30 },
      { name: "w1", kind: "warm", createdMinutesAgo: 2 },
      { name: "w2", kind: "warm", createdMinutesAgo: 1 },
    ]);
    expect(result.surplus).toEqual(["w1", "w2"]);
  });

  it("removes idle warm runners before idle job runners, each oldest first", () => {
    const idle = (name: string, kind: "job" | "warm", releasedMinutesAgo: number): PodSpec => ({
      name,
      kind,
      releasedMinutesAgo,
      createdMinutesAgo: releasedMinutesAgo + 1,
      phase: "Running",
      ...(kind === "job" ? { jobState: "done" as const } : {}),
    });
    const views = [
      idle("j-old", "job", 9),
      idle("w-new", "warm", 2),
      idle("j-new", "job", 3),
      idle("w-old", "warm", 8),
    ];
    expect(plan(views, { minIdle: 1 }).surplus).toEqual(["w-old", "w-new", "j-old"]);
    expect(plan(views, { minIdle: 3 }).surplus).toEqual(["w-old"]);
    // Whatever order the Pod cache lists them in.
    const all = ["w-old", "w-new", "j-old", "j-new"];
    expect(plan(views).surplus).toEqual(all);
    expect(plan([...views].reverse()).surplus).toEqual(all);
    expect(plan([views[2]!, views[0]!, views[3]!, views[1]!]).surplus).toEqual(all);
  });

  it("the limits are inclusive: a Pod exactly at a deadline or grace period is past it", () => {
    const result = plan([
      { name: "stuck", releasedMinutesAgo: 10, phase: "Pending", jobState: "started" },
      { name: "idle", releasedMinutesAgo: 1, phase: "Running", jobState: "done" },
    ]);
    expect(result.stuck).toEqual(["stuck"]);
    expect(result.surplus).toEqual(["idle"]);
  });

  it("a released Pod that never reached Running is stuck, even with a job reported on it", () => {
    const result = plan([{ name: "busy", releasedMinutesAgo: 11, busy: true, phase: "Pending" }]);
    expect(result.stuck).toEqual(["busy"]);
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

describe("planSet: fair release across repositories", () => {
  /** `count` queued jobs of `repository`, named <prefix>1…, the first the oldest, all older than `after` minutes. */
  const queuedJobs = (repository: string, prefix: string, count: number, after = 0): PodSpec[] =>
    Array.from({ length: count }, (_, i) => ({
      name: `${prefix}${i + 1}`,
      repository,
      createdMinutesAgo: after + count - i,
    }));
  const running = (repository: string, prefix: string, count: number): PodSpec[] =>
    Array.from({ length: count }, (_, i) => ({
      name: `${prefix}-run${i + 1}`,
      repository,
      releasedMinutesAgo: 1,
      busy: true,
      phase: "Running",
      jobState: "started" as const,
    }));
  const big = queuedJobs("octo/big", "a", 6, 10); // queued first: older than every job of octo/small
  const small = queuedJobs("octo/small", "b", 2);
  const repository = { mode: "repository" } as const;

  it.each([
    [
      "round-robin, oldest first within a repository",
      [...big, ...small],
      { maxRunners: 4 },
      ["a1", "b1", "a2", "b2"],
    ],
    [
      "fifo restores arrival order: the small repository waits behind the big one",
      [...big, ...small],
      { maxRunners: 4, fairness: { mode: "fifo" as const } },
      ["a1", "a2", "a3", "a4"],
    ],
    [
      "what already runs counts: a repository with 3 runners yields the free slot to one with none",
      [...running("octo/big", "a", 3), ...big, ...small],
      { maxRunners: 4 },
      ["b1"],
    ],
    [
      "weights: 3 slots to 1 while both wait",
      [...big, ...small],
      { maxRunners: 4, fairness: { ...repository, weights: { "octo/big": 3 } } },
      ["a1", "b1", "a2", "a3"],
    ],
    [
      "maxRunnersPerRepository leaves slots free rather than exceed it",
      [...running("octo/big", "a", 1), ...big, ...small],
      { maxRunners: 6, fairness: { ...repository, maxPerRepository: 2 } },
      ["b1", "a1", "b2"],
    ],
    [
      "maxRunnersPerRepository holds under fifo too",
      [...big, ...small],
      { maxRunners: 5, fairness: { mode: "fifo" as const, maxPerRepository: 2 } },
      ["a1", "a2", "b1", "b2"],
    ],
    [
      "a backlog that fits the free slots is released whole, oldest first",
      [...big.slice(0, 2), ...small],
      { maxRunners: 4 },
      ["a1", "a2", "b1", "b2"],
    ],
    [
      "warm Pods and Pods recorded without a repository share one queue, never capped",
      [
        { name: "w1", kind: "warm" as const, createdMinutesAgo: 30 },
        { name: "w2", kind: "warm" as const, createdMinutesAgo: 29 },
        ...big,
        ...small,
      ],
      { maxRunners: 3, minIdle: 2, fairness: { ...repository, maxPerRepository: 1 } },
      ["w1", "a1", "b1"],
    ],
  ])("%s", (_why, pods, overrides, release) => {
    expect(plan(pods, { fairness: repository, ...overrides }).release).toEqual(release);
  });

  it("the 500-and-10 backlog: the 10 late jobs of a second repository get half of the free slots at once", () => {
    const views = [...queuedJobs("octo/big", "a", 500, 10), ...queuedJobs("octo/small", "b", 10)];
    const result = plan(views, { maxRunners: 20, fairness: repository });
    expect(result.release.filter((name) => name.startsWith("b"))).toEqual(
      Array.from({ length: 10 }, (_, i) => `b${i + 1}`),
    );
    expect(
      plan(views, { maxRunners: 20, fairness: { mode: "fifo" } }).release.some((n) => n.startsWith("b")),
    ).toBe(false);
  });
});
