// Which Pods a changed spec reaches and how: counted by state, idle warm runners replaced, and a queued Pod made
// again keeps its place in the queue through dind-k8s.io/queued-at.
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ANNOTATIONS, LABELS, SCHEDULING_GATE } from "../../../src/scaler/model/keys.ts";
import { planSet } from "../../../src/scaler/plan/plan-set.ts";
import { viewPod } from "../../../src/scaler/plan/pod-view.ts";
import { isStale, planRollout } from "../../../src/scaler/plan/rollout.ts";

const NOW = new Date("2026-11-22T12:00:00Z");
const CURRENT = "0123456789abcdef";

function pod(
  name: string,
  state: "queued" | "idle" | "busy" | "tombstone" | "finished",
  {
    kind = "job",
    hash = CURRENT,
    created = "2026-11-22T11:00:00Z",
    queuedAt,
  }: { kind?: "job" | "warm"; hash?: string | null; created?: string; queuedAt?: string } = {},
): V1Pod {
  const released = state === "idle" || state === "busy" || state === "finished";
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      creationTimestamp: new Date(created),
      labels: {
        [LABELS.kind]: kind,
        ...(state === "tombstone" ? { [LABELS.jobState]: "done" } : {}),
      },
      annotations: {
        ...(hash === null ? {} : { [ANNOTATIONS.specHash]: hash }),
        ...(released
          ? { [ANNOTATIONS.releasedAt]: "2026-11-22T11:30:00Z", [ANNOTATIONS.runnerId]: "7" }
          : {}),
        ...(state === "busy" ? { [ANNOTATIONS.busyWith]: "42" } : {}),
        ...(queuedAt ? { [ANNOTATIONS.queuedAt]: queuedAt } : {}),
      },
    },
    spec: { containers: [], ...(released ? {} : { schedulingGates: [{ name: SCHEDULING_GATE }] }) },
    status: { phase: state === "finished" ? "Succeeded" : released ? "Running" : "Pending" },
  };
}

describe("planRollout", () => {
  it.each([
    ["a Pod of the current spec", pod("a", "queued"), false],
    ["a Pod of another spec", pod("a", "queued", { hash: "ffffffffffffffff" }), true],
    ["a Pod made before hashes", pod("a", "queued", { hash: null }), true],
  ])("%s: stale %s", (_, given, stale) => {
    expect(isStale(viewPod(given), CURRENT)).toBe(stale);
  });

  const old = { hash: "old" };
  const views = [
    pod("queued-job", "queued", old),
    pod("queued-warm", "queued", { ...old, kind: "warm" }),
    pod("idle-job", "idle", old),
    pod("idle-warm", "idle", { ...old, kind: "warm" }),
    pod("idle-warm-surplus", "idle", { ...old, kind: "warm" }),
    pod("busy-warm", "busy", { ...old, kind: "warm" }),
    pod("tombstone", "tombstone", old),
    pod("finished", "finished", old),
    pod("fresh-warm", "idle", { kind: "warm" }),
  ].map(viewPod);
  const plan = planRollout(views, CURRENT, new Set(["idle-warm-surplus"]));

  it("counts stale Pods still to run or running, by state (not tombstones, not finished ones)", () => {
    expect(plan.stale).toEqual({ queued: 2, idle: 3, busy: 1 });
  });

  it("replaces only idle warm runners of an old spec: busy ones finish, job Pods wait for their job", () => {
    expect(plan.replace.map((view) => view.name)).toEqual(["idle-warm"]);
  });
});

describe("a queued Pod made again keeps its place", () => {
  it("the planner orders by queued-at, so the recreated Pod (created last) is still released first", () => {
    const views = [
      // Recreated a minute ago with the new spec; it was queued first.
      pod("job-1", "queued", { created: "2026-11-22T11:59:00Z", queuedAt: "2026-11-22T10:00:00.000Z" }),
      pod("job-2", "queued", { hash: "old", created: "2026-11-22T10:30:00Z" }),
      pod("job-3", "queued", { hash: "old", created: "2026-11-22T11:00:00Z" }),
    ].map(viewPod);
    const plan = planSet({
      views,
      maxRunners: 2,
      minIdle: 0,
      now: NOW,
      tombstoneTtlMs: 3_600_000,
      pendingDeadlineMs: 600_000,
      idleGraceMs: 60_000,
      mayRelease: true,
    });
    expect(plan.release.map((view) => view.name)).toEqual(["job-1", "job-2"]);
  });
});
