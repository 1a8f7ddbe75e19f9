/**
 * How a job's `runs-on` labels meet a runner's labels, as GitHub matches them: case-insensitively, with the
 * implicit `self-hosted` ignored. The one definition the webhook's routing and the queued-job audit share.
 */
const IMPLICIT_LABELS = new Set(["self-hosted"]);

/** The job's labels that must be offered, lower case; empty when it names none but the implicit ones. */
export function wantedLabels(jobLabels: readonly string[]): Set<string> {
  return new Set(
    jobLabels.map((label) => label.toLowerCase()).filter((label) => !IMPLICIT_LABELS.has(label)),
  );
}

/**
 * Whether every wanted label of the job is among `labels`. A job that names no label of its own matches nothing:
 * it would run on any self-hosted runner, which is too vague to claim.
 */
export function jobLabelsMatch(jobLabels: readonly string[], labels: readonly string[]): boolean {
  const wanted = wantedLabels(jobLabels);
  const offered = new Set(labels.map((label) => label.toLowerCase()));
  return wanted.size > 0 && [...wanted].every((label) => offered.has(label));
}
