/**
 * What GitHub says about jobs: the queued jobs of our labels across the target's repositories (the audit that
 * finds jobs whose webhook was lost), and one job's status.
 */
import { jobLabelsMatch } from "../model/job-labels.ts";
import {
  installationRepositoriesPageShape,
  orgRepositoriesPageShape,
  read,
  runJobsPageShape,
  workflowJobShape,
  workflowRunsPageShape,
} from "./shapes.ts";
import { repoPath, targetPath } from "./target.ts";
import type { Transport } from "./transport.ts";
import type { GitHubApi, GitHubAuth, GitHubTarget, QueuedJob } from "./types.ts";

export type JobAudit = Pick<GitHubApi, "listQueuedJobs" | "getWorkflowJob">;

const ACTIVE_RUN = new Set(["queued", "in_progress"]);

export function createJobAudit({
  transport,
  target,
  auth,
  auditWindowMs,
}: {
  transport: Transport;
  target: GitHubTarget;
  auth: GitHubAuth["kind"];
  auditWindowMs: number;
}): JobAudit {
  async function repositories(): Promise<string[]> {
    if (target.kind === "repo") return [`${target.owner}/${target.repo}`];
    const repos =
      auth === "app"
        ? await transport.paginate(
            "/installation/repositories",
            {},
            installationRepositoriesPageShape,
            (page) => page.repositories,
          )
        : await transport.paginate(
            `${targetPath(target)}/repos`,
            { type: "all" },
            orgRepositoriesPageShape,
            (page) => page,
          );
    const org = target.org.toLowerCase();
    return repos
      .filter((repo) => repo.archived !== true && repo.full_name.split("/")[0]?.toLowerCase() === org)
      .map((repo) => repo.full_name);
  }

  async function queuedJobsOf(repo: string, labels: string[], since: Date): Promise<QueuedJob[]> {
    const base = repoPath(repo);
    const runsPath = `${base}/actions/runs`;
    const created = `>=${since.toISOString().replace(/\.\d{3}Z$/, "Z")}`;
    // A run waiting for its first runner is queued; one with a job still waiting beside a running job is in_progress.
    // Most repositories start few runs a day: one unfiltered page holds the whole window, filtered here. Only a
    // repository with a full page is asked again, per status, through every page.
    const first = await transport.call("GET", runsPath, {
      created,
      exclude_pull_requests: true,
      per_page: 100,
    });
    const firstPage = read(workflowRunsPageShape, first.data, `GET ${runsPath}`).workflow_runs;
    let runs = firstPage.filter((run) => ACTIVE_RUN.has(run.status ?? ""));
    if (firstPage.length >= 100) {
      const byStatus = await Promise.all(
        [...ACTIVE_RUN].map((status) =>
          transport.paginate(
            runsPath,
            { status, created, exclude_pull_requests: true },
            workflowRunsPageShape,
            (page) => page.workflow_runs,
          ),
        ),
      );
      runs = byStatus.flat();
    }
    const runIds = new Set(runs.map((run) => run.id));
    const jobLists = await Promise.all(
      [...runIds].map(async (runId) => {
        const jobs = await transport.paginate(
          `${base}/actions/runs/${runId}/jobs`,
          { filter: "latest" },
          runJobsPageShape,
          (page) => page.jobs,
        );
        return jobs
          .filter((job) => job.status === "queued" && jobLabelsMatch(job.labels, labels))
          .map(
            (job): QueuedJob => ({
              id: job.id,
              runId: job.run_id,
              runAttempt: job.run_attempt ?? 1,
              labels: job.labels,
              repo,
              createdAt: job.created_at,
            }),
          );
      }),
    );
    return jobLists.flat();
  }

  return {
    async listQueuedJobs(labels) {
      const since = new Date(Date.now() - auditWindowMs);
      // Repositories in parallel; maxConcurrentRequests bounds what is in flight.
      const perRepo = await Promise.all(
        (await repositories()).map((repo) => queuedJobsOf(repo, labels, since)),
      );
      return perRepo.flat();
    },

    async getWorkflowJob(repo, jobId) {
      const path = `${repoPath(repo)}/actions/jobs/${jobId}`;
      const reply = await transport.call("GET", path);
      const job = read(workflowJobShape, reply.data, `GET ${path}`);
      return {
        id: job.id,
        status: job.status,
        conclusion: job.conclusion,
        runnerName: job.runner_name,
        labels: job.labels,
      };
    },
  };
}
