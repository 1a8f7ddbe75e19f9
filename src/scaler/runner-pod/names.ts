// Names and labels of runner Pods. The name is derived from the job, so a duplicate webhook delivery produces the
// same name and the apiserver's AlreadyExists makes it a no-op.
import { createHash } from "node:crypto";

export const LABEL_PREFIX = "dind-k8s.io";
export const LABELS = {
  name: "app.kubernetes.io/name",
  component: "app.kubernetes.io/component",
  managedBy: "app.kubernetes.io/managed-by",
  partOf: "app.kubernetes.io/part-of",
  runnerSet: `${LABEL_PREFIX}/runner-set`,
  kind: `${LABEL_PREFIX}/kind`,
  jobId: `${LABEL_PREFIX}/job-id`,
  runAttempt: `${LABEL_PREFIX}/run-attempt`,
} as const;

export const ANNOTATIONS = {
  runnerLabels: `${LABEL_PREFIX}/runner-labels`,
  repository: `${LABEL_PREFIX}/repository`,
  runId: `${LABEL_PREFIX}/run-id`,
  workflow: `${LABEL_PREFIX}/workflow`,
} as const;

/** The reconciler removes this gate once the runner's JIT config Secret exists. */
export const SCHEDULING_GATE = `${LABEL_PREFIX}/jit-config`;

/** What a Pod is for: one queued job, or a warm runner kept idle for the set's minIdle. */
export type RunnerTarget =
  | { kind: "job"; jobId: number; runAttempt: number; runId?: number; repository?: string; workflow?: string }
  | { kind: "warm"; id: string };

export type JobTarget = Extract<RunnerTarget, { kind: "job" }>;

/**
 * The job a job Pod is for, read back from the labels and annotations the builder wrote (the Pod cache keeps no
 * spec to copy); undefined for a warm runner's Pod or one whose job labels are not whole numbers.
 */
export function jobTargetOf(
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
): JobTarget | undefined {
  const labels = metadata?.labels ?? {};
  if (labels[LABELS.kind] !== "job") return undefined;
  const annotations = metadata?.annotations ?? {};
  const jobId = Number(labels[LABELS.jobId]);
  const runAttempt = Number(labels[LABELS.runAttempt] ?? 1);
  if (!Number.isSafeInteger(jobId) || !Number.isSafeInteger(runAttempt)) return undefined;
  const runId = Number(annotations[ANNOTATIONS.runId]);
  return {
    kind: "job",
    jobId,
    runAttempt,
    ...(Number.isSafeInteger(runId) && runId > 0 ? { runId } : {}),
    ...(annotations[ANNOTATIONS.repository] ? { repository: annotations[ANNOTATIONS.repository] } : {}),
    ...(annotations[ANNOTATIONS.workflow] ? { workflow: annotations[ANNOTATIONS.workflow] } : {}),
  };
}

const MAX_NAME = 63;

/**
 * `<set>-<job id>-<attempt>` or `<set>-warm-<id>`. If that would pass 63 characters the set part is cut and a
 * hash of the whole set name keeps two long set names apart.
 */
export function runnerPodName(setName: string, target: RunnerTarget): string {
  let suffix: string;
  if (target.kind === "job") {
    if (!Number.isSafeInteger(target.jobId) || target.jobId < 0)
      throw new Error(`bad job id ${target.jobId}`);
    if (!Number.isSafeInteger(target.runAttempt) || target.runAttempt < 1) {
      throw new Error(`bad run attempt ${target.runAttempt}`);
    }
    suffix = `-${target.jobId}-${target.runAttempt}`;
  } else {
    if (!/^[a-z0-9]{1,16}$/.test(target.id)) {
      throw new Error(
        `warm runner id must be 1-16 lowercase letters or digits, got ${JSON.stringify(target.id)}`,
      );
    }
    suffix = `-warm-${target.id}`;
  }
  if (setName.length + suffix.length <= MAX_NAME) return `${setName}${suffix}`;
  const hash = createHash("sha256").update(setName).digest("hex").slice(0, 6);
  const room = MAX_NAME - suffix.length - hash.length - 1;
  const head = setName.slice(0, Math.max(room, 0)).replace(/-+$/, "");
  return `${head === "" ? "" : `${head}-`}${hash}${suffix}`.slice(0, MAX_NAME);
}
