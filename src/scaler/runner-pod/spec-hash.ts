// Which spec a runner Pod was made with: a hash of the Pod its set produces for one fixed placeholder job, so it
// is the same for every Pod of the set and changes with anything that changes them — the set's keys, its template,
// the sidecar mode, and dind-k8s's own builder (an upgrade that changes the Pod rolls out like a config change).
// Pure: the same inputs give the same hash in every process and after every restart.
import { createHash } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import type { JobTarget } from "../model/target.ts";

/** The job every set's hash is computed for: no real job has id 0. */
export const SPEC_HASH_TARGET: JobTarget = { kind: "job", jobId: 0, runAttempt: 1 };

/** Per set object, per namespace and sidecar mode: a set is built thousands of times, hashed once. */
const hashes = new WeakMap<object, Map<string, string>>();

/** The hash of `build()`'s Pod, remembered for `set` under `key` (the build's other inputs). */
export function specHash(set: object, key: string, build: () => V1Pod): string {
  let bySet = hashes.get(set);
  if (!bySet) {
    bySet = new Map();
    hashes.set(set, bySet);
  }
  let hash = bySet.get(key);
  if (hash === undefined) {
    hash = createHash("sha256").update(JSON.stringify(build())).digest("hex").slice(0, 16);
    bySet.set(key, hash);
  }
  return hash;
}
