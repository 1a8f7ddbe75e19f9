// Releasing a gated runner Pod: a warm cache claim if one is free, a JIT registration stored as the Pod's Secret,
// then the gate lifted. Each step is safe to repeat: a release interrupted anywhere is finished by the next pass.
import type { CachePool } from "../cache/pool.ts";
import type { RunnerSet } from "../config/load.ts";
import type { RunnerPods } from "../kube/runner-pods.ts";
import { ANNOTATIONS, LABELS, SCHEDULING_GATE } from "../model/keys.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { RunnerPodView } from "../plan/pod-view.ts";
import { isStale } from "../plan/rollout.ts";
import { buildJitSecret } from "../runner-pod/build-runner-pod.ts";
import { claimOf } from "../runner-pod/cache-claim.ts";
import { WORK_FOLDER } from "../runner-pod/layout.ts";
import type { Rollout } from "./rollout.ts";
import type { RunnerRegistry } from "./runner-registry.ts";

export interface ReleaserOptions {
  pods: RunnerPods;
  github: RunnerRegistry;
  cache?: CachePool | undefined;
  /** github.runnerGroup: the default for sets that name none. */
  runnerGroup: string | undefined;
  log: Logger;
  metrics: Metrics;
  /** Recreates a gated Pod made with an old spec before it is released. */
  rollout: Rollout;
  /** True once the reconciler was told to stop (it lost the Lease): nothing more is released. */
  stopped(): boolean;
}

export class Releaser {
  readonly #options: ReleaserOptions;

  constructor(options: ReleaserOptions) {
    this.#options = options;
  }

  /** `specHash`: the hash the set's Pods get now; a gated Pod made with another is made again first. */
  async release(set: RunnerSet, queued: RunnerPodView, specHash: string): Promise<void> {
    const { pods, github, cache, metrics, log, stopped } = this.#options;
    if (stopped()) return;
    let view = queued;
    let runnerId: number | undefined;
    // A release interrupted after the Secret was created must not register a second runner.
    const hasSecret = await pods.secretExists(view.name);
    // Not a Pod whose Secret exists (the Secret is owned by that Pod) or that holds a cache claim (it was made for
    // the claim from the set's current spec, moments ago).
    if (!hasSecret && !claimOf(view.pod) && isStale(view, specHash)) {
      const fresh = await this.#options.rollout.refresh(set, view);
      if (!fresh) {
        log.info("release deferred to the next pass", {
          runnerSet: set.name,
          pod: view.name,
          why: "the Pod changed while it was being made with the current spec",
        });
        return;
      }
      view = fresh;
    }
    // The daemon's data on a warm cache claim, if one is free. Not for a Pod whose Secret exists: the Secret is
    // owned by that Pod, and replacing the Pod would take the Secret with it.
    if (cache && set.cache && !hasSecret && !claimOf(view.pod)) {
      const attached = await cache.attach(set, view);
      if (attached.result === "deferred") {
        log.info("release deferred to the next pass", {
          runnerSet: set.name,
          pod: view.name,
          why: attached.reason,
        });
        return;
      }
      if (attached.result === "attached") view = attached.view;
      else
        log.debug("released without a cache claim", {
          runnerSet: set.name,
          pod: view.name,
          why: attached.reason,
        });
    }
    if (!hasSecret) {
      const groupId = await github.runnerGroupId(set.runnerGroup ?? this.#options.runnerGroup);
      const request = {
        name: view.name,
        runnerGroupId: groupId,
        labels: [...set.labels],
        workFolder: WORK_FOLDER,
      };
      metrics.githubCalls.inc({ operation: "generate-jitconfig" });
      // A runner of this name left registered by an interrupted release is replaced by generateJitConfig itself.
      const jit = await github.generateJitConfig(request);
      runnerId = jit.runnerId;
      const secret = buildJitSecret(view.pod, jit.encodedJitConfig, view.uid);
      secret.metadata!.annotations = { [ANNOTATIONS.runnerId]: String(jit.runnerId) };
      await pods.createSecret(secret);
    }
    // Fencing: a reconciler told to stop (it lost the Lease) releases nothing more. The Secret stays; the next
    // leader finds it and lifts the gate without registering another runner.
    if (stopped()) return;
    // The plan was made from the cache, and registering took a while (GitHub, its throttle): the job may have
    // been taken by another runner or completed since. Read the Pod again and lift the gate only if its job is
    // as planned, and only if nothing changed in between (resourceVersion). Else the next pass plans again; a
    // runner registered here for nothing is deregistered with its Pod.
    const fresh = await pods.read(view.name);
    if (!fresh || (fresh.spec?.schedulingGates ?? []).length === 0) return;
    if (fresh.metadata?.labels?.[LABELS.jobState] !== view.pod.metadata?.labels?.[LABELS.jobState]) {
      log.info("release called off: the job changed since the plan", {
        runnerSet: set.name,
        pod: view.name,
        jobState: fresh.metadata?.labels?.[LABELS.jobState],
      });
      return;
    }
    const annotations: Record<string, string> = { [ANNOTATIONS.releasedAt]: new Date().toISOString() };
    if (runnerId !== undefined) annotations[ANNOTATIONS.runnerId] = String(runnerId);
    const released = await pods.releaseGate(
      view.name,
      SCHEDULING_GATE,
      annotations,
      fresh.metadata?.resourceVersion,
    );
    if (released) {
      cache?.countRelease(set, view.pod);
      metrics.jobStartupSeconds.observe({ runner_set: set.name }, (Date.now() - view.createdAtMs) / 1000);
      log.info("runner released", { runnerSet: set.name, pod: view.name, runnerId });
    }
  }
}
