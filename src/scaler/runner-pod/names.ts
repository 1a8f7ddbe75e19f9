// Names of runner Pods. The name is derived from the job, so a duplicate webhook delivery produces the
// same name and the apiserver's AlreadyExists makes it a no-op.
import { createHash } from "node:crypto";
import type { RunnerTarget } from "../model/target.ts";

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
