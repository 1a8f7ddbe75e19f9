// Where the action runs (repository, run, attempt, job), from @actions/github's context, for the job summary
// and the post step's diagnostics.
import { context } from "@actions/github";

/** The fields of @actions/github's context this action reads; tests hand in a plain object. */
export type JobContext = Pick<typeof context, "serverUrl" | "runId" | "runAttempt" | "job"> & {
  /** "owner/name"; undefined when neither GITHUB_REPOSITORY nor the event payload names it. */
  repository: string | undefined;
};

export interface JobLocation {
  /** e.g. `job build of octo/app, run 1234 attempt 2`; undefined when the runner said nothing about it. */
  words: string | undefined;
  /** The run's page on the server the job runs on (github.com or GHES), at this attempt. */
  runUrl: string | undefined;
}

function positive(value: number): number | undefined {
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

export function jobLocation(job: JobContext): JobLocation {
  const runId = positive(job.runId);
  const attempt = positive(job.runAttempt);
  const run =
    runId === undefined ? undefined : `run ${runId}${attempt === undefined ? "" : ` attempt ${attempt}`}`;
  const where =
    job.job && job.repository !== undefined
      ? `job ${job.job} of ${job.repository}`
      : job.job
        ? `job ${job.job}`
        : job.repository;
  const words = [where, run].filter((part) => part !== undefined).join(", ");
  const server = job.serverUrl.replace(/\/+$/, "");
  const runUrl =
    job.repository === undefined || runId === undefined
      ? undefined
      : `${server}/${job.repository}/actions/runs/${runId}${attempt === undefined ? "" : `/attempts/${attempt}`}`;
  return { words: words === "" ? undefined : words, runUrl };
}

/** The context of this process (GITHUB_* variables and the event payload, read once when the module loads). */
export function currentJob(): JobLocation {
  let repository: string | undefined;
  try {
    const { owner, repo } = context.repo;
    repository = `${owner}/${repo}`;
  } catch {
    // context.repo throws without GITHUB_REPOSITORY and a payload repository: nothing to say then.
  }
  return jobLocation({
    serverUrl: context.serverUrl,
    runId: context.runId,
    runAttempt: context.runAttempt,
    job: context.job,
    repository,
  });
}
