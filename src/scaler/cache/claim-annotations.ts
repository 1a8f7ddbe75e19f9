// What the pool writes on a cache claim, as JSON annotations: who holds it (the lease) and how its last Pod left
// it (the last use). A value edited by hand into something unreadable counts as absent and is rewritten.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { ANNOTATIONS } from "../model/keys.ts";
import type { JobTarget } from "../model/target.ts";

export interface CacheLease {
  pod: string;
  /** uid of the Pod that mounts the claim, once it exists. */
  uid?: string;
  /** replacing: the gated Pod is being (or was, by a scaler that died) replaced by one with the claim. */
  state: "replacing" | "bound";
  /** When the lease was taken (ISO). */
  at: string;
  /** The job Pod to recreate if the scaler died between deleting the gated Pod and creating its replacement. */
  target?: JobTarget;
  /** The original Pod's creation time, for the recreated Pod's place in the queue. */
  queuedAt?: string;
  /** The claim held another repository's data when leased: the Pod empties it before use. */
  wipe?: boolean;
}

export interface CacheLastUse {
  pod: string;
  uid?: string;
  /** The daemon stopped cleanly and said so; false also when nothing was reported. */
  clean: boolean;
  dataBytes?: number;
  at: string;
}

function parseJson<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    // Someone edited it by hand: treat as absent; the pool rewrites it on the next change.
    return undefined;
  }
}

export const leaseOf = (claim: V1PersistentVolumeClaim) =>
  parseJson<CacheLease>(claim.metadata?.annotations?.[ANNOTATIONS.cacheLease]);
export const lastUseOf = (claim: V1PersistentVolumeClaim) =>
  parseJson<CacheLastUse>(claim.metadata?.annotations?.[ANNOTATIONS.cacheLastUse]);
export const repositoryOf = (claim: V1PersistentVolumeClaim) =>
  claim.metadata?.annotations?.[ANNOTATIONS.cacheRepository];
