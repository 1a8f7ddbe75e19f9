// What a runner Pod is for — one queued job, or a warm runner kept idle for the set's minIdle — and how to read
// that back from a Pod's labels, annotations and name (the Pod cache keeps no spec to copy).
import type { V1Pod } from "@kubernetes/client-node";
import { ANNOTATIONS, LABELS } from "./keys.ts";

export type JobTarget = {
  kind: "job";
  jobId: number;
  runAttempt: number;
  runId?: number;
  repository?: string;
  workflow?: string;
};
export type RunnerTarget = JobTarget | { kind: "warm"; id: string };

/** The warm runner id at the end of a warm Pod's name (`<set>-warm-<id>`). */
const WARM_NAME = /-warm-([a-z0-9]{1,16})$/;

/** The job a job Pod was made for, or undefined for a warm Pod or labels that don't name a job. */
export function jobTargetOf(pod: V1Pod): JobTarget | undefined {
  const labels = pod.metadata?.labels ?? {};
  if (labels[LABELS.kind] !== "job") return undefined;
  const annotations = pod.metadata?.annotations ?? {};
  const jobId = Number(labels[LABELS.jobId]);
  const runAttempt = Number(labels[LABELS.runAttempt] ?? 1);
  if (!Number.isSafeInteger(jobId) || !Number.isSafeInteger(runAttempt)) return undefined;
  const runId = Number(annotations[ANNOTATIONS.runId]);
  const repository = annotations[ANNOTATIONS.repository];
  const workflow = annotations[ANNOTATIONS.workflow];
  return {
    kind: "job",
    jobId,
    runAttempt,
    ...(Number.isSafeInteger(runId) && runId > 0 ? { runId } : {}),
    ...(repository ? { repository } : {}),
    ...(workflow ? { workflow } : {}),
  };
}

/** What any runner Pod is for; undefined when its labels and name say neither. */
export function targetOf(pod: V1Pod): RunnerTarget | undefined {
  if (pod.metadata?.labels?.[LABELS.kind] === "warm") {
    const id = WARM_NAME.exec(pod.metadata?.name ?? "")?.[1];
    return id ? { kind: "warm", id } : undefined;
  }
  return jobTargetOf(pod);
}
