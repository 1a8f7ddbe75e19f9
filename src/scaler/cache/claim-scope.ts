// Which free claim a job's Pod gets under `cache.scope`, and whether its data must go first. With scope
// "repository" a claim's images and build cache come from one repository's jobs only: a job of another repository
// could otherwise have retagged a base image the next job builds FROM. Pure.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { lastUseOf, repositoryOf } from "./claim-annotations.ts";

/** True when the claim holds data of a repository other than `repository` (or of repositories unknown). */
export function holdsOtherData(claim: V1PersistentVolumeClaim, repository: string): boolean {
  const used = lastUseOf(claim) !== undefined || repositoryOf(claim) !== undefined;
  return used && repositoryOf(claim) !== repository;
}

/**
 * Takes the best claim for `repository` out of `free` (in their order): one last used for it (its cache is a
 * hit), else one never used, else any (to be emptied). Without a repository (scope runnerSet), the first.
 */
export function takeClaim<T extends { claim: V1PersistentVolumeClaim }>(
  free: T[],
  repository: string | undefined,
): T | undefined {
  if (repository === undefined) return free.shift();
  const rank = (slot: T) =>
    repositoryOf(slot.claim) === repository ? 0 : holdsOtherData(slot.claim, repository) ? 2 : 1;
  let best = -1;
  free.forEach((slot, index) => {
    if (best < 0 || rank(slot) < rank(free[best]!)) best = index;
  });
  return best < 0 ? undefined : free.splice(best, 1)[0];
}
