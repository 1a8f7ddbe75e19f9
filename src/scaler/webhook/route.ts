// Which runner set takes a job: every label of the job (except the implicit `self-hosted`) must be
// one of the set's labels, compared case-insensitively as GitHub does. When several sets qualify,
// the most specific one wins: the one with the fewest labels beyond the job's (then config order).

export interface Routable {
  name: string;
  labels: readonly string[];
}

const IMPLICIT_LABELS = new Set(["self-hosted"]);

export function routeJob<T extends Routable>(
  jobLabels: readonly string[],
  sets: readonly T[],
): T | undefined {
  const wanted = new Set(
    jobLabels.map((label) => label.toLowerCase()).filter((label) => !IMPLICIT_LABELS.has(label)),
  );
  // A job that names no label of ours (only `self-hosted`) is too vague to claim.
  if (wanted.size === 0) return undefined;
  let best: { set: T; extra: number } | undefined;
  for (const set of sets) {
    const offered = new Set(set.labels.map((label) => label.toLowerCase()));
    if (![...wanted].every((label) => offered.has(label))) continue;
    const extra = offered.size - wanted.size;
    if (best === undefined || extra < best.extra) best = { set, extra };
  }
  return best?.set;
}
