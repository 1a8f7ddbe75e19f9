import type { ContainerSummary, SystemDf } from "../docker/types.ts";
import { formatBytes } from "./format.ts";

function sum(values: readonly (number | undefined)[]): number {
  return values.reduce<number>((total, value) => total + (value !== undefined && value > 0 ? value : 0), 0);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function containerLine(container: ContainerSummary): string {
  const name = container.Names?.[0]?.replace(/^\//, "") ?? container.Id.slice(0, 12);
  return `  ${name} (${container.Image ?? "?"}, ${container.Status ?? container.State ?? "?"})`;
}

/**
 * The post step's short block: what still runs and what takes disk. `job` says which job it was (e.g. "job build
 * of octo/app, run 1234 attempt 2"), for logs read out of context.
 */
export function formatDiagnostics(
  daemon: string,
  containers: ContainerSummary[] | Error,
  df: SystemDf | Error,
  job?: string,
): string[] {
  const lines = [`Docker daemon ${daemon} at the end of ${job ?? "the job"}:`];
  if (containers instanceof Error) {
    lines.push(`Running containers: unavailable (${reason(containers)})`);
  } else if (containers.length === 0) {
    lines.push("Running containers: none");
  } else {
    lines.push(`Running containers: ${containers.length}`);
    const shown = containers.slice(0, 10);
    lines.push(...shown.map(containerLine));
    if (containers.length > shown.length) lines.push(`  … and ${containers.length - shown.length} more`);
  }
  if (df instanceof Error) {
    lines.push(`Disk used: unavailable (${reason(df)})`);
  } else {
    const images = df.Images ?? [];
    const cache = df.BuildCache ?? [];
    const imageBytes = df.LayersSize ?? sum(images.map((image) => image.Size));
    lines.push(
      [
        `Disk used: images ${formatBytes(imageBytes)} (${images.length})`,
        `build cache ${formatBytes(sum(cache.filter((entry) => !entry.Shared).map((entry) => entry.Size)))} (${cache.length} entries)`,
        `containers ${formatBytes(sum((df.Containers ?? []).map((container) => container.SizeRw)))}`,
        `volumes ${formatBytes(sum((df.Volumes ?? []).map((volume) => volume.UsageData?.Size)))}`,
      ].join(", "),
    );
  }
  return lines;
}
