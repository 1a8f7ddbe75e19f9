import { describe, expect, it } from "vitest";
import { type JobContext, jobLocation } from "../../../src/action/job.ts";

const full: JobContext = {
  serverUrl: "https://github.com",
  runId: 1234,
  runAttempt: 2,
  job: "build",
  repository: "octo/app",
};

describe("jobLocation", () => {
  it.each<[string, Partial<JobContext>, ReturnType<typeof jobLocation>]>([
    [
      "github.com",
      {},
      {
        words: "job build of octo/app, run 1234 attempt 2",
        runUrl: "https://github.com/octo/app/actions/runs/1234/attempts/2",
      },
    ],
    [
      "GHES: links on the job's own server",
      { serverUrl: "https://ghes.example.internal/" },
      {
        words: "job build of octo/app, run 1234 attempt 2",
        runUrl: "https://ghes.example.internal/octo/app/actions/runs/1234/attempts/2",
      },
    ],
    [
      "no attempt (GITHUB_RUN_ATTEMPT unset: NaN)",
      { runAttempt: Number.NaN },
      { words: "job build of octo/app, run 1234", runUrl: "https://github.com/octo/app/actions/runs/1234" },
    ],
    [
      "no run id: no link",
      { runId: Number.NaN, runAttempt: Number.NaN },
      { words: "job build of octo/app", runUrl: undefined },
    ],
    [
      "no repository: no link",
      { repository: undefined },
      { words: "job build, run 1234 attempt 2", runUrl: undefined },
    ],
    [
      "nothing known",
      {
        job: undefined as unknown as string,
        repository: undefined,
        runId: Number.NaN,
        runAttempt: Number.NaN,
      },
      { words: undefined, runUrl: undefined },
    ],
  ])("%s", (_, change, expected) => {
    expect(jobLocation({ ...full, ...change })).toEqual(expected);
  });
});
