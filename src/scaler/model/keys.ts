// Every label, annotation and gate key the scaler writes on Kubernetes objects, in one place. Other code names
// a key through these constants, never as a literal: a renamed key must change everywhere at once.

/** Prefix of the keys that are ours (the Pod cache keeps only these and the well-known app.kubernetes.io ones). */
export const KEY_PREFIX = "dind-k8s.io";

export const LABELS = {
  name: "app.kubernetes.io/name",
  component: "app.kubernetes.io/component",
  managedBy: "app.kubernetes.io/managed-by",
  partOf: "app.kubernetes.io/part-of",
  runnerSet: `${KEY_PREFIX}/runner-set`,
  /** "job" (one queued job's Pod) or "warm" (kept idle for minIdle). */
  kind: `${KEY_PREFIX}/kind`,
  jobId: `${KEY_PREFIX}/job-id`,
  runAttempt: `${KEY_PREFIX}/run-attempt`,
  /** On a job's own Pod: absent while the job is queued; "started" or "done" after its events. */
  jobState: `${KEY_PREFIX}/job-state`,
  /** On a runner Pod: the cache claim it mounts. */
  cacheClaim: `${KEY_PREFIX}/cache-claim`,
  /** On a cache claim: its index in the set's pool. */
  cacheIndex: `${KEY_PREFIX}/cache-index`,
} as const;

export const ANNOTATIONS = {
  runnerLabels: `${KEY_PREFIX}/runner-labels`,
  repository: `${KEY_PREFIX}/repository`,
  runId: `${KEY_PREFIX}/run-id`,
  workflow: `${KEY_PREFIX}/workflow`,
  /** The job a runner's Pod is running (from workflow_job in_progress). */
  busyWith: `${KEY_PREFIX}/busy-with-job`,
  /** The GitHub runner id, set when the JIT config is created. */
  runnerId: `${KEY_PREFIX}/runner-id`,
  /** When the gate was released (ISO). */
  releasedAt: `${KEY_PREFIX}/released-at`,
  /** When the job was queued (ISO): a Pod replaced to get a cache claim keeps its original's place. */
  queuedAt: `${KEY_PREFIX}/queued-at`,
  /** A hash of the Pod its runner set produces (runner-pod/spec-hash.ts): a stale one is rolled out. */
  specHash: `${KEY_PREFIX}/spec-hash`,
  /** On a cache claim: which Pod holds it, as JSON. */
  cacheLease: `${KEY_PREFIX}/cache-lease`,
  /** On a cache claim: its last use and the start script's report, as JSON. */
  cacheLastUse: `${KEY_PREFIX}/cache-last-use`,
  /** On a cache claim: the repository (owner/name) whose jobs its data comes from; absent when mixed or unknown. */
  cacheRepository: `${KEY_PREFIX}/cache-repository`,
  /** On the leader Lease: the redelivery sweep's cursor. */
  redeliveryCursor: `${KEY_PREFIX}/redelivery-cursor`,
  /** On the leader Lease: the id of the newest delivery-log entry the poll handled (github.intake poll/both). */
  pollCursor: `${KEY_PREFIX}/poll-cursor`,
} as const;

/** The reconciler removes this gate once the runner's JIT config Secret exists. */
export const SCHEDULING_GATE = `${KEY_PREFIX}/jit-config`;
