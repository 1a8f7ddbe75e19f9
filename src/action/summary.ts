import { access, statfs } from "node:fs/promises";
import { join } from "node:path";
import type { summary } from "@actions/core";
import { describeEndpoint, type Endpoint } from "../docker/endpoint.ts";
import type { DockerInfo, DockerVersion } from "../docker/types.ts";
import { formatBytes } from "./format.ts";
import type { JobLocation } from "./job.ts";

/** @actions/core's job summary builder; the action passes core.summary, which writes to GITHUB_STEP_SUMMARY. */
export type JobSummary = typeof summary;

export interface DaemonFacts {
  endpoint: Endpoint;
  version: DockerVersion;
  info: DockerInfo;
  waitedMs: number;
  dataRootSpace: string;
}

/** The job summary table as label/value rows. */
export function summaryRows(facts: DaemonFacts): [string, string][] {
  const dataRoot = facts.info.DockerRootDir ?? "unknown";
  return [
    ["Endpoint", describeEndpoint(facts.endpoint)],
    ["Docker version", facts.version.Version],
    ["API version", facts.version.ApiVersion],
    ["Storage driver", facts.info.Driver],
    ["Data root", `${dataRoot} (${facts.dataRootSpace})`],
    ["Wait time", `${Math.round(facts.waitedMs)} ms`],
  ];
}

/** core.summary takes HTML: what the daemon or the user sent must not become markup. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** A line saying where this ran, linked to the run on the job's own server (github.com or GHES). */
function addJobLine(summary: JobSummary, job: JobLocation): JobSummary {
  if (job.words === undefined) return summary;
  const words = escapeHtml(job.words);
  const text = job.runUrl === undefined ? words : `<a href="${escapeHtml(job.runUrl)}">${words}</a>`;
  return summary.addRaw(`<p>dind-setup in ${text}</p>`, true);
}

/** The ready daemon's section of the job summary: a heading, a table of facts, where it ran. */
export function addReadySummary(summary: JobSummary, facts: DaemonFacts, job: JobLocation): JobSummary {
  summary
    .addHeading("Docker daemon", 3)
    .addTable(
      summaryRows(facts).map(([label, value]) => [
        { data: escapeHtml(label), header: true },
        escapeHtml(value),
      ]),
    );
  return addJobLine(summary, job);
}

/** The section when no daemon was found: the failure message as the log shows it, and where it ran. */
export function addFailureSummary(summary: JobSummary, message: string, job: JobLocation): JobSummary {
  summary.addHeading("Docker daemon: not ready", 3).addCodeBlock(escapeHtml(message));
  return addJobLine(summary, job);
}

/**
 * Free space where the daemon keeps its graph storage, when that directory is visible from here (a daemon
 * on the same host, as on GitHub-hosted runners). A dind sidecar's /var/lib/docker is not mounted into the
 * runner container; the check for the storage driver's own directory keeps us from measuring an unrelated
 * /var/lib/docker of the runner image.
 */
export async function dataRootSpace(info: DockerInfo, endpoint: Endpoint): Promise<string> {
  const root = info.DockerRootDir;
  if (!root || endpoint.kind !== "unix") return "free space not visible from this container";
  try {
    await access(join(root, info.Driver));
    const stats = await statfs(root);
    return `${formatBytes(stats.bavail * stats.bsize)} free of ${formatBytes(stats.blocks * stats.bsize)}`;
  } catch {
    return "free space not visible from this container";
  }
}
