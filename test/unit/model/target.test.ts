import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import { ANNOTATIONS, LABELS } from "../../../src/scaler/model/keys.ts";
import { jobTargetOf, type RunnerTarget, targetOf } from "../../../src/scaler/model/target.ts";
import { buildRunnerPod } from "../../../src/scaler/runner-pod/build-runner-pod.ts";

const fixture = join(import.meta.dirname, "../../fixtures/config/minimal.yaml");
const [set] = parseConfig(readFileSync(fixture, "utf8"), fixture).runnerSets;
const built = (target: RunnerTarget) =>
  buildRunnerPod(set!, target, { namespace: "r", sidecars: "native" }).pod;

/** A Pod as the Pod cache keeps it: labels, annotations and name only. */
function cached(
  name: string | undefined,
  labels?: Record<string, string>,
  annotations?: Record<string, string>,
) {
  return {
    metadata: {
      ...(name ? { name } : {}),
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    },
  };
}
const jobLabels = (jobId: string, runAttempt?: string) => ({
  [LABELS.kind]: "job",
  [LABELS.jobId]: jobId,
  ...(runAttempt === undefined ? {} : { [LABELS.runAttempt]: runAttempt }),
});

describe("reading a runner Pod's target back (a Pod replaced for a cache claim must be rebuilt for the same job)", () => {
  it.each<RunnerTarget>([
    { kind: "job", jobId: 4242, runAttempt: 2, runId: 99, repository: "o/r", workflow: "CI" },
    { kind: "job", jobId: 7, runAttempt: 1 },
    { kind: "warm", id: "k3x9" },
    { kind: "warm", id: "0123456789abcdef" },
  ])("a Pod built for %o reads back as the same target", (target) => {
    expect(targetOf(built(target))).toEqual(target);
  });

  it("a job Pod's target is its job; a warm Pod has none (it takes whichever job comes)", () => {
    const job: RunnerTarget = { kind: "job", jobId: 5, runAttempt: 3, workflow: "Build" };
    expect(jobTargetOf(built(job))).toEqual(job);
    expect(jobTargetOf(built({ kind: "warm", id: "w1" }))).toBeUndefined();
  });

  it("a job Pod without a run-attempt label is the first attempt", () => {
    expect(jobTargetOf(cached("s-8-1", jobLabels("8")))).toEqual({ kind: "job", jobId: 8, runAttempt: 1 });
  });

  it.each([
    ["a job id that isn't a number", jobLabels("x", "1")],
    ["a job id that isn't whole", jobLabels("8.5", "1")],
    ["a run attempt that isn't whole", jobLabels("8", "1.5")],
    ["no kind label", { [LABELS.jobId]: "8" }],
    ["an unknown kind", { [LABELS.kind]: "other", [LABELS.jobId]: "8" }],
  ])("names no job when its labels don't: %s", (_why, labels) => {
    expect(jobTargetOf(cached("s-8-1", labels))).toBeUndefined();
    expect(targetOf(cached("s-8-1", labels))).toBeUndefined();
  });

  it.each(["0", "-3", "abc", "1.5"])(
    "drops a run id annotation that isn't a positive whole number (%s)",
    (runId) => {
      const pod = cached("s-8-1", jobLabels("8", "1"), { [ANNOTATIONS.runId]: runId });
      expect(jobTargetOf(pod)).toEqual({ kind: "job", jobId: 8, runAttempt: 1 });
    },
  );

  it("drops empty repository and workflow annotations", () => {
    const pod = cached("s-8-1", jobLabels("8", "1"), {
      [ANNOTATIONS.repository]: "",
      [ANNOTATIONS.workflow]: "",
    });
    expect(jobTargetOf(pod)).toEqual({ kind: "job", jobId: 8, runAttempt: 1 });
  });

  it.each([
    ["s-warm-abc-x", "the id is not at the end of the name"],
    ["s-warm-ABC", "the id has capitals"],
    ["s-warm-", "the id is empty"],
    [`s-warm-${"a".repeat(17)}`, "the id is longer than 16"],
    ["oddly-named", "no -warm- part"],
    [undefined, "no name at all"],
  ])("a warm Pod named %s has no target: %s", (name, _why) => {
    expect(targetOf(cached(name, { [LABELS.kind]: "warm" }))).toBeUndefined();
  });

  it("a Pod without metadata, labels or annotations is nobody's runner (and doesn't throw)", () => {
    const bare: V1Pod = {};
    expect(targetOf(bare)).toBeUndefined();
    expect(jobTargetOf(bare)).toBeUndefined();
    expect(targetOf({ metadata: { name: "s-warm-abc" } })).toBeUndefined();
    expect(jobTargetOf({ metadata: { labels: jobLabels("8", "2") } })).toEqual({
      kind: "job",
      jobId: 8,
      runAttempt: 2,
    });
  });
});
