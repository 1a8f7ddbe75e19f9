import { access, statfs } from "node:fs/promises";
import { join } from "node:path";
import { describeEndpoint, type Endpoint } from "../docker/endpoint.ts";
import type { DockerInfo, DockerVersion } from "../docker/types.ts";
import { formatBytes } from "./format.ts";

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

/** Markdown-table cells: a pipe would end the cell, a newline the row. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|").replace(/\s*\n\s*/g, " ");
}

/** The job summary: a heading and a two-column table. */
export function summaryMarkdown(facts: DaemonFacts): string {
  const lines = ["### Docker daemon", "", "| | |", "|---|---|"];
  for (const [label, value] of summaryRows(facts)) lines.push(`| ${cell(label)} | ${cell(value)} |`);
  return lines.join("\n");
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
