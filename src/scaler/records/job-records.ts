// The durable record of jobs: what each workflow_job event writes to Kubernetes. Pods are the record
// (etcd is the queue): a queued job is a scheduling-gated Pod named after the job, so a duplicate
// delivery is AlreadyExists, and `kubectl get pods` shows the backlog.
import type { Config, RunnerSet } from "../config/load.ts";
import type { RunnerPods, V1Pod } from "../kube/runner-pods.ts";
import { ANNOTATIONS, LABELS } from "../model/keys.ts";
import type { SidecarMode } from "../model/sidecar-mode.ts";
import type { RunnerTarget } from "../model/target.ts";
import { buildRunnerPod } from "../runner-pod/build-runner-pod.ts";
import { runnerPodName } from "../runner-pod/names.ts";
import type { JobRecorder } from "../webhook/intake.ts";
import type { WorkflowJobEvent } from "../webhook/workflow-job.ts";
import { type Backlog, createBacklog } from "./backlog.ts";

export interface JobRecordsOptions {
  config: Config;
  pods: RunnerPods;
  sidecars: SidecarMode;
}

function jobTarget(job: WorkflowJobEvent): RunnerTarget {
  return {
    kind: "job",
    jobId: job.jobId,
    runAttempt: job.runAttempt,
    runId: job.runId,
    repository: job.repository,
    ...(job.workflowName ? { workflow: job.workflowName } : {}),
  };
}

export function createJobRecords({ config, pods, sidecars }: JobRecordsOptions): JobRecorder & {
  podFor(set: RunnerSet, target: RunnerTarget): V1Pod;
  /** The sets' backlog bound, shared with the queued-job audit. */
  backlog: Backlog;
} {
  const sets = new Map(config.runnerSets.map((set) => [set.name, set]));
  const setNamed = (name: string): RunnerSet => {
    const set = sets.get(name);
    if (!set) throw new Error(`unknown runner set ${name}`);
    return set;
  };
  const backlog = createBacklog(pods);
  const podFor = (set: RunnerSet, target: RunnerTarget): V1Pod =>
    buildRunnerPod(set, target, { namespace: pods.namespace, sidecars }).pod;

  return {
    podFor,
    backlog,

    async recordQueued(setName, job) {
      const set = setNamed(setName);
      const name = runnerPodName(setName, jobTarget(job));
      const recorded = (pod: V1Pod | undefined) =>
        pod?.metadata?.labels?.[LABELS.jobState] === "done" ? "already-completed" : "exists";
      // A duplicate delivery of a job already recorded is answered as one, however full the set is.
      const cached = pods.cachedPod(name);
      if (cached) return recorded(cached);
      if (!backlog.reserve(set)) return "backlog-full";
      let created: Awaited<ReturnType<RunnerPods["create"]>>;
      try {
        created = await pods.create(podFor(set, jobTarget(job)));
      } catch (error: unknown) {
        backlog.release(set);
        throw error;
      }
      if (created.result === "created") return "created";
      backlog.release(set);
      return recorded(pods.cachedPod(name));
    },

    async recordStarted(setName, job) {
      const jobPod = runnerPodName(setName, jobTarget(job));
      const busy = { [ANNOTATIONS.busyWith]: String(job.jobId) };
      // Runner name = Pod name, and a job's Pod made again keeps its name: an event of an earlier runner of that
      // name (late, or redelivered after an outage) must not mark the Pod's current, idle runner busy, or it
      // would never be taken away. The runner id tells them apart when both are known.
      const sameRunner = (pod: string) => {
        if (job.runnerId === null) return true;
        const current = pods.cachedPod(pod)?.metadata?.annotations?.[ANNOTATIONS.runnerId];
        return current === undefined || Number(current) === job.runnerId;
      };
      // Usually the job's own runner took it: one write marks both.
      if (job.runnerName === jobPod) {
        await pods.markJobStarted(jobPod, sameRunner(jobPod) ? busy : {});
        return;
      }
      // Another runner took it: the job's own Pod no longer waits for it, and that runner is busy (never
      // deregister it as surplus). In this order: between the two writes the set then looks one runner too
      // many, which the reconciler acts on only after idleGraceMs; the other order looks one too few, and a
      // warm runner would be created at once.
      await pods.markJobStarted(jobPod);
      if (job.runnerName && sameRunner(job.runnerName)) {
        await pods.patchMetadata(job.runnerName, { annotations: busy });
      }
    },

    async recordCompleted(setName, job) {
      const set = setNamed(setName);
      const name = runnerPodName(set.name, jobTarget(job));
      // Mark the job done on its own Pod. If the Pod doesn't exist (deleted after its runner finished, or
      // `completed` overtook `queued`), create it as a gated tombstone: a late or repeated `queued`
      // delivery then hits AlreadyExists instead of starting a runner nobody needs. The reconciler never
      // releases a tombstone and deletes it after a while.
      const patched = await pods.patchMetadata(name, { labels: { [LABELS.jobState]: "done" } });
      if (!patched) {
        const tombstone = podFor(set, jobTarget(job));
        tombstone.metadata!.labels = { ...tombstone.metadata!.labels, [LABELS.jobState]: "done" };
        const created = await pods.create(tombstone);
        if (created.result === "exists") {
          await pods.patchMetadata(name, { labels: { [LABELS.jobState]: "done" } });
        }
      }
    },
  };
}
