import { describe, expect, it } from "vitest";
import type { RunnerSet } from "../../../src/scaler/config/load.ts";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import { silentLogger } from "../../../src/scaler/observe/log.ts";
import { createMetrics } from "../../../src/scaler/observe/metrics.ts";
import type { RunnerPodView } from "../../../src/scaler/plan/pod-view.ts";
import { DEFAULT_LEAD_MS, SetCapacity } from "../../../src/scaler/reconcile/set-capacity.ts";

function runnerSet(extra: string): RunnerSet {
  const config = parseConfig(
    `github: { org: o, auth: { appId: 1, privateKeyFile: /k }, webhookSecretFile: /s }
kubernetes: { namespace: runners }
runnerSets:
  - name: dind
    labels: [dind]
    maxRunners: 10
    minIdle: 1
${extra}`,
    "test.yaml",
  );
  return config.runnerSets[0]!;
}

const scheduled = runnerSet(`    schedules:
      - { name: mornings, cron: "0 8 * * *", duration: 2h, timeZone: UTC, minIdle: 6, maxRunners: 20 }
`);

const T0 = Date.parse("2026-06-10T07:00:00Z");

function view(name: string, fields: Partial<RunnerPodView>): RunnerPodView {
  return {
    pod: {},
    name,
    uid: name,
    kind: "warm",
    state: "idle",
    repository: undefined,
    jobState: undefined,
    createdAtMs: T0,
    releasedAtMs: T0,
    runnerId: 1,
    specHash: undefined,
    phase: "Pending",
    running: false,
    ...fields,
  };
}

describe("SetCapacity: the lead time is the measured runner start", () => {
  it("is the default until a start was seen, then the longest of the recent starts", () => {
    const capacity = new SetCapacity([scheduled], createMetrics({ processMetrics: false }), silentLogger);
    expect(capacity.leadMs("dind")).toBe(DEFAULT_LEAD_MS);
    // A warm Pod from its creation, a job Pod from its release, to the first pass that sees it Running.
    capacity.observe(
      scheduled,
      [view("warm-a", {}), view("job-b", { kind: "job", releasedAtMs: T0 + 5_000 })],
      T0 + 1_000,
    );
    capacity.observe(
      scheduled,
      [view("warm-a", { running: true }), view("job-b", { kind: "job", releasedAtMs: T0 + 5_000 })],
      T0 + 12_000,
    );
    expect(capacity.leadMs("dind")).toBe(12_000);
    capacity.observe(
      scheduled,
      [view("job-b", { kind: "job", releasedAtMs: T0 + 5_000, running: true, state: "busy" })],
      T0 + 9_000,
    );
    expect(capacity.leadMs("dind")).toBe(12_000);
  });

  it("does not count runners that were already Running when first seen (a new leader)", () => {
    const capacity = new SetCapacity([scheduled], createMetrics({ processMetrics: false }), silentLogger);
    capacity.observe(scheduled, [view("old", { running: true, createdAtMs: T0 - 3_600_000 })], T0);
    expect(capacity.leadMs("dind")).toBe(DEFAULT_LEAD_MS);
  });

  it("a configured scheduleLeadTime wins over the measurement", () => {
    const fixed = runnerSet(`    scheduleLeadTime: 5m
    schedules:
      - { cron: "0 8 * * *", duration: 2h, timeZone: UTC, minIdle: 6 }
`);
    const capacity = new SetCapacity([fixed], createMetrics({ processMetrics: false }), silentLogger);
    capacity.observe(fixed, [view("a", {})], T0);
    capacity.observe(fixed, [view("a", { running: true })], T0 + 1_000);
    expect(capacity.leadMs("dind")).toBe(300_000);
  });
});

describe("SetCapacity.at", () => {
  it("applies the window from the lead time before it, and exports the values", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const capacity = new SetCapacity([scheduled], metrics, silentLogger);
    const before = capacity.at(scheduled, new Date(T0 + 3_600_000 - DEFAULT_LEAD_MS - 1_000));
    expect({ minIdle: before.minIdle, maxRunners: before.maxRunners }).toEqual({
      minIdle: 1,
      maxRunners: 10,
    });
    const prewarm = capacity.at(scheduled, new Date(T0 + 3_600_000 - DEFAULT_LEAD_MS));
    expect({ minIdle: prewarm.minIdle, maxRunners: prewarm.maxRunners }).toEqual({
      minIdle: 6,
      maxRunners: 20,
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('dind_k8s_schedule_window_active{runner_set="dind",window="mornings"} 1');
    expect(text).toContain('dind_k8s_runner_set_capacity{runner_set="dind",value="minIdle"} 6');
    expect(text).toContain('dind_k8s_runner_set_capacity{runner_set="dind",value="maxRunners"} 20');
    expect(text).toContain('dind_k8s_schedule_lead_seconds{runner_set="dind"} 60');
    capacity.at(scheduled, new Date(T0 + 3 * 3_600_000));
    expect(await metrics.registry.metrics()).toContain(
      'dind_k8s_schedule_window_active{runner_set="dind",window="mornings"} 0',
    );
  });

  it("a set without schedules keeps its plain values", () => {
    const plain = runnerSet("");
    const capacity = new SetCapacity([plain], createMetrics({ processMetrics: false }), silentLogger);
    expect(capacity.at(plain, new Date(T0))).toEqual({
      minIdle: 1,
      maxRunners: 10,
      windows: [],
      changesAtMs: Number.POSITIVE_INFINITY,
    });
  });
});
