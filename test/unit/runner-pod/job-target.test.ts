import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config.ts";
import { buildRunnerPod } from "../../../src/scaler/runner-pod/build-runner-pod.ts";
import { type JobTarget, jobTargetOf, LABELS } from "../../../src/scaler/runner-pod/names.ts";

const fixture = join(import.meta.dirname, "../../fixtures/config/profiles.yaml");
const set = parseConfig(readFileSync(fixture, "utf8"), fixture).runnerSets.find((s) => s.name === "default")!;
const podOf = (target: JobTarget | { kind: "warm"; id: string }) =>
  buildRunnerPod(set, target, { namespace: "runners", sidecars: "native" }).pod;

describe("jobTargetOf (the one reading of a job Pod's target, for the reconciler and the cache pool)", () => {
  it.each<JobTarget>([
    { kind: "job", jobId: 42, runAttempt: 2, runId: 7, repository: "acme/app", workflow: "CI" },
    { kind: "job", jobId: 42, runAttempt: 1, repository: "acme/app" },
    { kind: "job", jobId: 0, runAttempt: 1 },
  ])("reads back what the builder wrote: %o", (target) => {
    expect(jobTargetOf(podOf(target).metadata)).toEqual(target);
  });

  it("is undefined for a warm runner's Pod and for job labels that are not numbers", () => {
    expect(jobTargetOf(podOf({ kind: "warm", id: "a1" }).metadata)).toBeUndefined();
    const metadata = podOf({ kind: "job", jobId: 1, runAttempt: 1 }).metadata!;
    expect(jobTargetOf({ ...metadata, labels: { ...metadata.labels, [LABELS.jobId]: "x" } })).toBeUndefined();
    expect(jobTargetOf(undefined)).toBeUndefined();
  });
});
