import examples from "@octokit/webhooks-examples/api.github.com/index.json" with { type: "json" };
import { describe, expect, it } from "vitest";
import { PayloadError, parseWorkflowJob } from "../../../src/scaler/webhook/workflow-job.ts";

const recorded = (examples as { name: string; examples: Record<string, unknown>[] }[]).find(
  (entry) => entry.name === "workflow_job",
)!.examples;

describe("parseWorkflowJob", () => {
  it("reads every recorded workflow_job example from GitHub's docs", () => {
    expect(recorded.length).toBeGreaterThanOrEqual(4);
    for (const example of recorded) {
      const job = parseWorkflowJob(example);
      const raw = example.workflow_job as { id: number; labels: string[]; run_id: number };
      expect(job.jobId).toBe(raw.id);
      expect(job.runId).toBe(raw.run_id);
      expect(job.labels).toEqual(raw.labels);
      expect(job.repository).toBe((example.repository as { full_name: string }).full_name);
    }
  });

  it("reads runner_name as null when no runner has the job yet", () => {
    const queued = recorded.find(
      (example) =>
        example.action === "queued" &&
        (example.workflow_job as { runner_name: unknown }).runner_name === null,
    )!;
    const started = recorded.find((example) => example.action === "in_progress")!;
    expect(parseWorkflowJob(queued).runnerName).toBeNull();
    expect(parseWorkflowJob(started).runnerName).toBe(
      (started.workflow_job as { runner_name: string }).runner_name,
    );
  });

  it.each([
    { payload: null, message: "payload: expected a JSON object" },
    {
      payload: { action: "deleted" },
      message: 'action: expected one of queued, in_progress, completed, waiting, got "deleted"',
    },
    { payload: { action: "queued" }, message: "workflow_job: expected an object" },
    {
      payload: { action: "queued", workflow_job: { id: 1, run_id: 2, labels: "dind-k8s" } },
      message: "workflow_job.labels: expected a list of strings",
    },
    {
      payload: {
        action: "queued",
        workflow_job: { id: -1, run_id: 2, labels: [] },
        repository: { full_name: "o/r" },
      },
      message: "workflow_job.id: expected a whole number, got -1",
    },
    {
      payload: { action: "queued", workflow_job: { id: 1, run_id: 2, labels: [] }, repository: {} },
      message: "repository.full_name: expected owner/name",
    },
  ])("rejects $message", ({ payload, message }) => {
    expect(() => parseWorkflowJob(payload)).toThrow(new PayloadError(message));
  });
});
