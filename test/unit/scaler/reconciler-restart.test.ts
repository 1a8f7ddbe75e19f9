// A leader that loses the Lease and wins it back must reconcile again: the reconciler stopped and started with
// an event's pass still pending (debounced) passes again after the restart.
import { describe, expect, it } from "vitest";
import type { RunnerPods } from "../../../src/scaler/kube/runner-pods.ts";
import { silentLogger } from "../../../src/scaler/observe/log.ts";
import { createMetrics } from "../../../src/scaler/observe/metrics.ts";
import { DEFAULT_RECONCILER_TIMING, Reconciler } from "../../../src/scaler/reconcile/reconciler.ts";
import { unreachableGitHub } from "../../helpers/github-unreachable.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Reconciler stop and start", () => {
  it("passes again after a restart that came while a pass was pending", async () => {
    const listeners: (() => void)[] = [];
    const pods = {
      onChange: (listener: () => void) => {
        listeners.push(listener);
        return () => listeners.splice(listeners.indexOf(listener), 1);
      },
      cached: () => [],
      cachedPod: () => undefined,
    } as unknown as RunnerPods;
    const reconciler = new Reconciler({
      runnerSets: [],
      runnerGroup: undefined,
      pods,
      // No runner sets: what a pass asks of GitHub (the orphan sweep) may fail; passes are counted all the same.
      github: unreachableGitHub,
      podFor: () => ({}),
      log: silentLogger,
      metrics: createMetrics({ processMetrics: false }),
      timing: { ...DEFAULT_RECONCILER_TIMING, debounceMs: 50, resyncMs: 60_000 },
    });
    reconciler.start();
    await sleep(120);
    expect(reconciler.passes).toBe(1);
    // A Pod event: a pass is pending (debounced) when the Lease is lost, and the Lease comes back.
    for (const listener of listeners) listener();
    await reconciler.stop();
    reconciler.start();
    await sleep(120);
    expect(reconciler.passes).toBe(2);
    for (const listener of listeners) listener();
    await sleep(120);
    expect(reconciler.passes).toBe(3);
    await reconciler.stop();
  });
});
