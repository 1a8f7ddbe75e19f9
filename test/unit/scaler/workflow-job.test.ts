import examples from "@octokit/webhooks-examples/api.github.com/index.json" with { type: "json" };
import { describe, expect, it } from "vitest";
import { PayloadError, parseWorkflowJob } from "../../../src/scaler/webhook/workflow-job.ts";

type Example = {
  action: string;
  workflow_job: {
    id: number;
    run_id: number;
    run_attempt?: number;
    labels: string[];
    workflow_name?: string;
    runner_name: string | null;
    conclusion: string | null;
  };
  repository: { full_name: string };
};

const recorded = (examples as { name: string; examples: Example[] }[]).find(
  (entry) => entry.name === "workflow_job",
)!.examples;

/** A deep copy of `example` with the value at `path` replaced (undefined: removed). */
function broken(example: Example, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(example) as unknown as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

describe("parseWorkflowJob", () => {
  it("reads every recorded workflow_job example from @octokit/webhooks-examples", () => {
    expect(recorded.length).toBeGreaterThanOrEqual(4);
    expect(new Set(recorded.map((example) => example.action))).toEqual(
      new Set(["queued", "in_progress", "completed", "waiting"]),
    );
    for (const example of recorded) {
      const job = example.workflow_job;
      expect(parseWorkflowJob(example)).toEqual({
        action: example.action,
        jobId: job.id,
        runId: job.run_id,
        runAttempt: job.run_attempt ?? 1,
        labels: job.labels,
        repository: example.repository.full_name,
        installationId: (example as { installation?: { id: number } }).installation?.id,
        workflowName: job.workflow_name,
        runnerName: job.runner_name || null,
        runnerId: (job as { runner_id?: number | null }).runner_id ?? null,
        conclusion: job.conclusion,
      });
    }
  });

  it("reads runner_name as null when no runner has the job yet", () => {
    const queued = recorded.find(
      (example) => example.action === "queued" && example.workflow_job.runner_name === null,
    )!;
    const started = recorded.find((example) => example.action === "in_progress")!;
    expect(parseWorkflowJob(queued).runnerName).toBeNull();
    expect(parseWorkflowJob(started).runnerName).toBe(started.workflow_job.runner_name);
    expect(parseWorkflowJob(broken(queued, ["workflow_job", "runner_name"], "")).runnerName).toBeNull();
  });

  it("reads a payload without run_attempt (older GHES) as a first attempt", () => {
    expect(
      parseWorkflowJob(broken(recorded[0]!, ["workflow_job", "run_attempt"], undefined)).runAttempt,
    ).toBe(1);
  });

  it("does not refuse a delivery over an informational field of another type", () => {
    const odd = broken(recorded[0]!, ["workflow_job", "conclusion"], 42);
    expect(parseWorkflowJob(odd).conclusion).toBeNull();
  });

  it.each([
    { payload: null, message: "payload: expected a JSON object, got null" },
    { payload: [], message: "payload: expected a JSON object, got []" },
  ])("rejects $message", ({ payload, message }) => {
    expect(() => parseWorkflowJob(payload)).toThrow(new PayloadError(message));
  });

  // Every recorded example, broken one field at a time: the message names that field and what was there.
  const breakages: { path: (string | number)[]; value: unknown; message: string }[] = [
    {
      path: ["action"],
      value: "deleted",
      message: 'action: expected one of queued, in_progress, completed, waiting, got "deleted"',
    },
    {
      path: ["action"],
      value: undefined,
      message: "action: expected one of queued, in_progress, completed, waiting, got nothing",
    },
    { path: ["workflow_job"], value: undefined, message: "workflow_job: expected an object, got nothing" },
    // The owner check reads the installation: one that is there but unreadable is refused, not skipped.
    {
      path: ["installation"],
      value: { id: "42" },
      message: 'installation.id: expected a whole number, got "42"',
    },
    { path: ["installation"], value: 42, message: "installation: expected an object with id, got 42" },
    { path: ["workflow_job"], value: "job", message: 'workflow_job: expected an object, got "job"' },
    { path: ["workflow_job", "id"], value: -1, message: "workflow_job.id: expected a whole number, got -1" },
    {
      path: ["workflow_job", "id"],
      value: undefined,
      message: "workflow_job.id: expected a whole number, got nothing",
    },
    {
      path: ["workflow_job", "run_id"],
      value: "12",
      message: 'workflow_job.run_id: expected a whole number, got "12"',
    },
    {
      path: ["workflow_job", "run_attempt"],
      value: 1.5,
      message: "workflow_job.run_attempt: expected a whole number, got 1.5",
    },
    {
      path: ["workflow_job", "labels"],
      value: "dind-k8s",
      message: 'workflow_job.labels: expected a list of strings, got "dind-k8s"',
    },
    {
      path: ["workflow_job", "labels"],
      value: ["dind-k8s", 5],
      message: "workflow_job.labels[1]: expected a string, got 5",
    },
    {
      path: ["repository"],
      value: undefined,
      message: "repository: expected an object with full_name, got nothing",
    },
    {
      path: ["repository", "full_name"],
      value: "app",
      message: 'repository.full_name: expected owner/name, got "app"',
    },
    {
      path: ["repository", "full_name"],
      value: undefined,
      message: "repository.full_name: expected owner/name, got nothing",
    },
  ];
  it.each(
    recorded.flatMap((example, index) =>
      breakages.map((breakage) => ({ ...breakage, example, name: `${index} (${example.action})` })),
    ),
  )("rejects recorded example $name with $message", ({ example, path, value, message }) => {
    expect(() => parseWorkflowJob(broken(example, path, value))).toThrow(new PayloadError(message));
  });
});
