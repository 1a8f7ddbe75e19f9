// Which runner set takes a job: every label of the job (except the implicit `self-hosted`) must be
// one of the set's labels (model/job-labels.ts). When several sets qualify, the most specific one
// wins: the one with the fewest labels beyond the job's (then config order).
import { jobLabelsMatch, wantedLabels } from "../model/job-labels.ts";

export interface Routable {
  name: string;
  labels: readonly string[];
}

export function routeJob<T extends Routable>(
  jobLabels: readonly string[],
  sets: readonly T[],
): T | undefined {
  const wanted = wantedLabels(jobLabels).size;
  let best: { set: T; extra: number } | undefined;
  for (const set of sets) {
    if (!jobLabelsMatch(jobLabels, set.labels)) continue;
    const extra = new Set(set.labels.map((label) => label.toLowerCase())).size - wanted;
    if (best === undefined || extra < best.extra) best = { set, extra };
  }
  return best?.set;
}
