/**
 * Whether a job's `runs-on` labels, ignoring the implicit `self-hosted`, are all among `labels` (case-insensitive,
 * as GitHub matches them). A job with no other label matches nothing: it would run on any self-hosted runner.
 */
export function jobLabelsMatch(jobLabels: readonly string[], labels: readonly string[]): boolean {
  const offered = new Set(labels.map((label) => label.toLowerCase()));
  const wanted = jobLabels.map((label) => label.toLowerCase()).filter((label) => label !== "self-hosted");
  return wanted.length > 0 && wanted.every((label) => offered.has(label));
}
