import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import { LABELS } from "../../../src/scaler/model/keys.ts";
import {
  type JobTarget,
  jobTargetOf,
  type RunnerTarget,
  targetOf,
} from "../../../src/scaler/model/target.ts";
import { buildRunnerPod } from "../../../src/scaler/runner-pod/build-runner-pod.ts";

const fixture = join(import.meta.dirname, "../../fixtures/config/profiles.yaml");
const set = parseConfig(readFileSync(fixture, "utf8"), fixture).runnerSets.find((s) => s.name === "default")!;
const podOf = (target: RunnerTarget) =>
  buildRunnerPod(set, target, { namespace: "runners", sidecars: "native" }).pod;

describe("jobTargetOf (the one reading of a job Pod's target, for the reconciler and the cache pool)", () => {
  it.each<JobTarget>([
    { kind: "job", jobId: 42, runAttempt: 2, runId: 7, repository: "acme/app", workflow: "CI" },
    { kind: "job", jobId: 42, runAttempt: 1, repository: "acme/app" },
    { kind: "job", jobId: 0, runAttempt: 1 },
  ])("reads back what the builder wrote: %o", (target) => {
    expect(jobTargetOf(podOf(target))).toEqual(target);
    expect(targetOf(podOf(target))).toEqual(target);
  });

  it("is undefined for a warm runner's Pod and for job labels that are not numbers", () => {
    expect(jobTargetOf(podOf({ kind: "warm", id: "a1" }))).toBeUndefined();
    const pod = podOf({ kind: "job", jobId: 1, runAttempt: 1 });
    const broken = {
      ...pod,
      metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, [LABELS.jobId]: "x" } },
    };
    expect(jobTargetOf(broken)).toBeUndefined();
    expect(jobTargetOf({})).toBeUndefined();
  });
});

describe("targetOf (what any runner Pod is for)", () => {
  it("reads a warm runner's id back from its name", () => {
    expect(targetOf(podOf({ kind: "warm", id: "a1b2" }))).toEqual({ kind: "warm", id: "a1b2" });
  });

  it("is undefined for a warm Pod whose name has no warm id (renamed by hand)", () => {
    const pod = podOf({ kind: "warm", id: "a1b2" });
    expect(targetOf({ ...pod, metadata: { ...pod.metadata, name: "something-else" } })).toBeUndefined();
  });
});
