// Pure: what each runner Pod is (queued, idle, busy, …), read from its labels, annotations and status.
import type { V1Pod } from "@kubernetes/client-node";
import { ANNOTATIONS, LABELS } from "../model/keys.ts";

export type PodState =
  /** Gated, waiting for a slot: its job (or warm purpose) still wants a runner. */
  | "queued"
  /** Gated, and its job already completed: kept so a late duplicate `queued` can't start a runner. */
  | "tombstone"
  /** Gate released, runner not known to be busy. */
  | "idle"
  /** Gate released, its runner took a job. */
  | "busy"
  /** The runner container (or the Pod) terminated. */
  | "finished"
  /** Deletion requested; waiting for the kubelet. */
  | "terminating";

export interface RunnerPodView {
  pod: V1Pod;
  name: string;
  uid: string | undefined;
  kind: "job" | "warm";
  state: PodState;
  /** owner/name of the job's repository (job Pods; undefined for warm ones and Pods recorded without it). */
  repository: string | undefined;
  /** The job's own state, for job Pods: undefined while queued. */
  jobState: "started" | "done" | undefined;
  /** When its job was queued (ms since the epoch): a number, not a Date, as 10,000 Dates cost a MB of heap. */
  createdAtMs: number;
  /** When its gate was released (ms since the epoch). */
  releasedAtMs: number | undefined;
  runnerId: number | undefined;
  phase: string | undefined;
  /** The Pod reached Running (its containers started). */
  running: boolean;
  /** The hash of the spec it was made with (runner-pod/spec-hash.ts); undefined for a Pod made before hashes. */
  specHash: string | undefined;
}

function runnerTerminated(pod: V1Pod): boolean {
  return (pod.status?.containerStatuses ?? []).some(
    (status) => status.name === "runner" && status.state?.terminated,
  );
}

/**
 * Views of the cached Pods, by object: the cache replaces a Pod's object whenever the Pod changes, so an
 * unchanged Pod keeps its view and a pass over 10,000 Pods doesn't rebuild 10,000 views.
 */
const views = new WeakMap<V1Pod, RunnerPodView>();

export function viewPod(pod: V1Pod): RunnerPodView {
  let view = views.get(pod);
  if (!view) {
    view = buildView(pod);
    views.set(pod, view);
  }
  return view;
}

function buildView(pod: V1Pod): RunnerPodView {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const jobStateLabel = labels[LABELS.jobState];
  const jobState = jobStateLabel === "started" || jobStateLabel === "done" ? jobStateLabel : undefined;
  const gated = (pod.spec?.schedulingGates ?? []).length > 0;
  const phase = pod.status?.phase;
  let state: PodState;
  if (pod.metadata?.deletionTimestamp) state = "terminating";
  else if (phase === "Succeeded" || phase === "Failed" || runnerTerminated(pod)) state = "finished";
  else if (gated) state = jobState === "done" ? "tombstone" : "queued";
  else state = annotations[ANNOTATIONS.busyWith] ? "busy" : "idle";
  const runnerId = Number(annotations[ANNOTATIONS.runnerId]);
  const releasedAt = annotations[ANNOTATIONS.releasedAt];
  return {
    pod,
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid,
    kind: labels[LABELS.kind] === "warm" ? "warm" : "job",
    state,
    repository: annotations[ANNOTATIONS.repository],
    jobState,
    // A Pod replaced to get a cache claim keeps its original's place in the queue.
    createdAtMs: new Date(
      annotations[ANNOTATIONS.queuedAt] ?? pod.metadata?.creationTimestamp ?? 0,
    ).getTime(),
    releasedAtMs: releasedAt ? new Date(releasedAt).getTime() : undefined,
    runnerId: Number.isSafeInteger(runnerId) && runnerId > 0 ? runnerId : undefined,
    phase,
    running: phase === "Running",
    specHash: annotations[ANNOTATIONS.specHash],
  };
}
