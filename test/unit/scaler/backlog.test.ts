import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { LABELS, SCHEDULING_GATE } from "../../../src/scaler/model/keys.ts";
import { createBacklog } from "../../../src/scaler/records/backlog.ts";

function pod(set: string, { gated = true, kind = "job" } = {}): V1Pod {
  return {
    metadata: { name: `${set}-${Math.random()}`, labels: { [LABELS.runnerSet]: set, [LABELS.kind]: kind } },
    spec: { containers: [], ...(gated ? { schedulingGates: [{ name: SCHEDULING_GATE }] } : {}) },
  };
}

function fakePods(initial: V1Pod[]) {
  let pods = initial;
  const listeners: (() => void)[] = [];
  return {
    cached: () => pods,
    onChange(listener: () => void) {
      listeners.push(listener);
      return () => {};
    },
    set(next: V1Pod[]) {
      pods = next;
      for (const listener of listeners) listener();
    },
  };
}

describe("createBacklog", () => {
  const set = { name: "a", maxRunners: 1, maxQueued: 3 };

  it("counts only the set's queued job Pods, then each place taken since", () => {
    const pods = fakePods([
      pod("a"),
      pod("a", { gated: false }),
      pod("a", { kind: "warm" }),
      pod("b"),
      pod("b"),
      pod("b"),
    ]);
    const backlog = createBacklog(pods);
    expect(backlog.reserve(set)).toBe(true);
    expect(backlog.reserve(set)).toBe(true);
    expect(backlog.reserve(set)).toBe(false);
    backlog.release(set);
    expect(backlog.reserve(set)).toBe(true);
    expect(backlog.reserve({ ...set, name: "b" })).toBe(false);
  });

  it("defaults to 20 × maxRunners, and a set with maxRunners 0 and no maxQueued queues nothing", () => {
    const backlog = createBacklog(fakePods(Array.from({ length: 39 }, () => pod("a"))));
    expect(backlog.reserve({ name: "a", maxRunners: 2 })).toBe(true);
    expect(backlog.reserve({ name: "a", maxRunners: 2 })).toBe(false);
    expect(backlog.reserve({ name: "z", maxRunners: 0 })).toBe(false);
  });

  it("recounts from the cache after it changed, at most every 100 ms", () => {
    let now = 0;
    const pods = fakePods([pod("a"), pod("a"), pod("a")]);
    const backlog = createBacklog(pods, () => now);
    expect(backlog.reserve(set)).toBe(false);
    pods.set([pod("a")]);
    now = 50;
    expect(backlog.reserve(set)).toBe(false);
    now = 100;
    expect(backlog.reserve(set)).toBe(true);
    expect(backlog.reserve(set)).toBe(true);
    expect(backlog.reserve(set)).toBe(false);
  });
});
