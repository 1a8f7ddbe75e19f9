// The Docker cache volume pool of a runner set: N ReadWriteOncePod claims, each leased to one runner Pod at a
// time for its daemon's /var/lib/docker. Only the elected reconciler calls this, once per pass before it acts.
//
// The lease lives on the claim (annotation), written with a resourceVersion precondition, so two writers can't
// both take one claim, and nothing about it is in memory across passes: a restarted or newly elected scaler reads
// the same leases. A claim is in use while any Pod that mounts it exists (terminating ones included) or while its
// lease names a Pod that does; it is free only when that Pod is gone from the apiserver.
//
// A Pod's volumes are immutable, also while it is gated, so a released Pod that gets a claim is a new object of
// the same name: lease the claim (state "replacing", with the job to recreate), delete the gated Pod (uid
// precondition), create it again with the claim and still gated, then mark the lease "bound". If the scaler dies
// between the delete and the create, the next pass finds a "replacing" lease without its Pod and creates it.
// Size: one state machine over a set's claims — sync, settle, shed, attach and unlease share its slots and the
// lease protocol above; split, each part would need the whole of it.
import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { RunnerSet } from "../config/load.ts";
import type { CacheClaims } from "../kube/cache-claims.ts";
import type { RunnerPods } from "../kube/runner-pods.ts";
import { ANNOTATIONS, LABELS } from "../model/keys.ts";
import { jobTargetOf, type RunnerTarget, targetOf } from "../model/target.ts";
import type { Logger } from "../observe/log.ts";
import { type RunnerPodView, viewPod } from "../plan/pod-view.ts";
import {
  buildCacheClaim,
  type CacheReport,
  cacheClaimName,
  cacheClaimSelector,
  cacheReportOf,
  claimOf,
  claimOutdated,
  withCacheClaim,
} from "../runner-pod/cache-claim.ts";
import { type CacheLastUse, type CacheLease, lastUseOf, leaseOf } from "./claim-annotations.ts";
import { holdsOtherData, takeClaim } from "./claim-scope.ts";
import { type CacheMetrics, createCacheMetrics } from "./metrics.ts";

interface Slot {
  name: string;
  claim: V1PersistentVolumeClaim;
  lastUse: CacheLastUse | undefined;
}

export type AttachResult =
  /** The Pod was replaced by one whose daemon uses a claim; release this view. */
  | { result: "attached"; view: RunnerPodView; claim: string }
  /** No free claim (or this Pod can't be replaced): release it as it is, on the set's own storage. */
  | { result: "miss"; reason: string }
  /** The Pod changed under us (a duplicate delivery recreated it, or it was deleted): leave it for the next pass. */
  | { result: "deferred"; reason: string };

export interface CachePoolOptions {
  pods: RunnerPods;
  claims: CacheClaims;
  podFor(set: RunnerSet, target: RunnerTarget): V1Pod;
  log: Logger;
  registry: Registry;
  /**
   * A lease whose Pod exists but doesn't mount the claim is a replacement in progress; after this long it is
   * taken as abandoned (the release was interrupted and the Pod went another way) and the claim is freed.
   */
  leaseGraceMs: number;
}

export class CachePool {
  readonly #options: CachePoolOptions;
  readonly metrics: CacheMetrics;
  /** Per set, this pass: free claims in index order. Releases take from the front. */
  readonly #free = new Map<string, Slot[]>();
  /** Per set, this pass: claims already leased to a gated Pod (by name) whose replacement didn't finish. */
  readonly #reserved = new Map<string, Map<string, Slot>>();

  /**
   * Reports of Pods on a claim, by uid, from their last state when they were removed. The kubelet writes the
   * final status (with dind's report) and deletes the Pod right after; a pass may never see it in between.
   * Memory only: after a restart a lost report means "unclean", and the next Pod checks the data (safe, slower).
   */
  readonly #reports = new Map<string, CacheReport & { at: number }>();

  constructor(options: CachePoolOptions) {
    this.#options = options;
    this.metrics = createCacheMetrics(options.registry);
    options.pods.onDeleted((pod) => {
      const report = claimOf(pod) ? cacheReportOf(pod) : undefined;
      const uid = pod.metadata?.uid;
      if (report && uid) this.#reports.set(uid, { ...report, at: Date.now() });
      // Replicas that don't lead collect reports too (they may lead next); keep an hour's worth.
      for (const [key, kept] of this.#reports) {
        if (Date.now() - kept.at <= 60 * 60_000) break;
        this.#reports.delete(key);
      }
    });
  }

  /**
   * Brings the set's pool up to date from the apiserver and its Pods: creates missing claims, records how Pods
   * left their claims, frees the claims of Pods that are gone, recreates Pods lost mid-replacement, recycles
   * outdated claims, and computes the free claims for this pass's releases.
   */
  async sync(set: RunnerSet, views: readonly RunnerPodView[], now: Date): Promise<void> {
    const cache = set.cache;
    if (!cache) return;
    const { claims: claimApi, log } = this.#options;
    // Until this pass has read the claims, none is free: a failed read must not hand out last pass's list.
    this.#free.set(set.name, []);
    this.#reserved.set(set.name, new Map());
    const claims = await claimApi.list(cacheClaimSelector(set.name));
    const byName = new Map(claims.map((claim) => [claim.metadata?.name ?? "", claim]));
    for (let index = 0; index < cache.volumes; index++) {
      const name = cacheClaimName(set.name, index);
      if (byName.has(name)) continue;
      const created = await claimApi.create(buildCacheClaim(set, index, claimApi.namespace));
      if (created !== "exists") {
        claims.push(created);
        log.info("cache claim created", { runnerSet: set.name, claim: name });
      }
    }

    const users = new Map<string, RunnerPodView[]>();
    for (const view of views) {
      const claim = claimOf(view.pod);
      if (claim) users.set(claim, [...(users.get(claim) ?? []), view]);
    }

    const free: Slot[] = [];
    const reserved = new Map<string, Slot>();
    let leased = 0;
    let recycling = 0;
    for (const claim of claims) {
      const name = claim.metadata?.name ?? "";
      const slot: Slot = { name, claim, lastUse: lastUseOf(claim) };
      if (slot.lastUse?.dataBytes !== undefined) {
        this.metrics.volumeBytes.set({ runner_set: set.name, claim: name }, slot.lastUse.dataBytes);
      }
      if (claim.metadata?.deletionTimestamp) {
        recycling++;
        continue;
      }
      const state = await this.#settle(set, slot, users.get(name) ?? [], now).catch((error: unknown) => {
        log.error("cache claim check failed; leaving it alone this pass", {
          runnerSet: set.name,
          claim: name,
          error: String(error),
        });
        return "leased" as const;
      });
      if (state === "free") {
        const index = Number(claim.metadata?.labels?.[LABELS.cacheIndex]);
        const reason = !(index < cache.volumes)
          ? "pool-shrank"
          : claimOutdated(claim, cache)
            ? "settings"
            : // Its volume is gone (deleted behind Kubernetes' back): a Pod on it would never start.
              slot.claim.status?.phase === "Lost"
              ? "lost"
              : "";
        if (reason) {
          // Free, so no Pod mounts it: deleting it now can't pull a volume from under a daemon. Only as read:
          // a claim leased meanwhile (by a replica that still thinks it leads) is kept.
          await this.#options.claims.delete(
            name,
            slot.claim.metadata?.uid ?? "",
            slot.claim.metadata?.resourceVersion,
          );
          this.metrics.recycled.inc({ runner_set: set.name, reason });
          log.info("cache claim recycled", { runnerSet: set.name, claim: name, reason });
          recycling++;
          continue;
        }
        free.push(slot);
      } else if (typeof state === "object") {
        reserved.set(state.reservedFor, slot);
        leased++;
      } else leased++;
    }
    const indexOf = (slot: Slot) => Number(slot.claim.metadata?.labels?.[LABELS.cacheIndex]);
    free.sort((a, b) => indexOf(a) - indexOf(b));
    this.#free.set(set.name, free);
    this.#reserved.set(set.name, reserved);
    this.metrics.volumes.set({ runner_set: set.name, state: "free" }, free.length);
    this.metrics.volumes.set({ runner_set: set.name, state: "leased" }, leased);
    this.metrics.volumes.set({ runner_set: set.name, state: "recycling" }, recycling);
  }

  /** One claim: free, leased, or leased to a gated Pod that should get it when released. */
  async #settle(
    set: RunnerSet,
    slot: Slot,
    mounted: readonly RunnerPodView[],
    now: Date,
  ): Promise<"free" | "leased" | { reservedFor: string }> {
    const { pods, log } = this.#options;
    const lease = leaseOf(slot.claim);
    if (mounted.length > 0) {
      // In use. Keep what its Pods report, and point the lease at the Pod that mounts it.
      const annotations: Record<string, string> = {};
      for (const view of mounted) {
        const report = cacheReportOf(view.pod);
        if (report && slot.lastUse?.uid !== view.uid) {
          const lastUse: CacheLastUse = {
            pod: view.name,
            ...(view.uid ? { uid: view.uid } : {}),
            clean: report.clean,
            dataBytes: report.dataBytes,
            at: now.toISOString(),
          };
          annotations[ANNOTATIONS.cacheLastUse] = JSON.stringify(lastUse);
          if (!report.clean) this.metrics.uncleanEnds.inc({ runner_set: set.name });
        }
      }
      const holder = mounted[0]!;
      if (lease?.state !== "bound" || lease.pod !== holder.name || lease.uid !== holder.uid) {
        annotations[ANNOTATIONS.cacheLease] = JSON.stringify({
          pod: holder.name,
          ...(holder.uid ? { uid: holder.uid } : {}),
          state: "bound",
          at: lease?.at ?? now.toISOString(),
        } satisfies CacheLease);
      }
      if (Object.keys(annotations).length > 0) {
        await this.#annotate(slot, annotations);
      }
      for (const view of mounted) {
        if (view.state === "tombstone") await this.#shed(set, view);
      }
      return "leased";
    }
    if (!lease) return "free";

    // Leased, but no Pod in the informer cache mounts it: ask the apiserver about the holder (the cache may lag
    // behind a Pod this scaler, or the previous leader, just created).
    const holder = pods.cachedPod(lease.pod) ?? (await pods.read(lease.pod));
    if (holder && claimOf(holder) === slot.name) return "leased";
    const age = now.getTime() - new Date(lease.at).getTime();
    if (holder) {
      // A "replacing" lease and a Pod of its name without the claim: the gated Pod whose release took the lease
      // (or a duplicate delivery's copy of it). It gets this claim when released, unless that takes too long.
      // A "bound" lease's Pod mounted the claim, so this is a newer Pod of the same name: the old one is gone.
      if (lease.state === "replacing" && age < this.#options.leaseGraceMs) {
        const gated = (holder.spec?.schedulingGates ?? []).length > 0;
        return gated ? { reservedFor: lease.pod } : "leased";
      }
      await this.#unlease(set, slot, lease, lease.state === "bound" ? "gone" : "abandoned", now);
      return "free";
    }
    if (lease.state === "replacing" && lease.target && age < this.#options.leaseGraceMs) {
      // The scaler died after deleting the gated Pod and before creating it again: the job's only record is this
      // lease. Create the Pod (gated, with the claim); the next pass releases it.
      const pod = withCacheClaim(this.#options.podFor(set, lease.target), set, {
        claim: slot.name,
        check: slot.lastUse !== undefined && !slot.lastUse.clean,
        wipe: lease.wipe === true,
        queuedAt: lease.queuedAt ?? lease.at,
      });
      const created = await pods.create(pod);
      log.warn("recreated a runner Pod lost while it was being given a cache claim", {
        runnerSet: set.name,
        pod: lease.pod,
        claim: slot.name,
        result: created.result,
      });
      return "leased";
    }
    await this.#unlease(set, slot, lease, "gone", now);
    return "free";
  }

  /**
   * A gated Pod that got a claim but whose job ended before its release (the release failed, say GitHub was
   * down, and the job was cancelled meanwhile) is kept as a tombstone for an hour: without this it would hold
   * the claim that long. It becomes the same tombstone without the claim; the claim is free once it is gone.
   */
  async #shed(set: RunnerSet, view: RunnerPodView): Promise<void> {
    const { pods, podFor, log } = this.#options;
    const purpose = targetOf(view.pod);
    if (!purpose) return;
    const tombstone = podFor(set, purpose);
    if (tombstone.metadata?.name !== view.name) return;
    tombstone.metadata = {
      ...tombstone.metadata,
      labels: { ...tombstone.metadata?.labels, ...view.pod.metadata?.labels },
      annotations: { ...tombstone.metadata?.annotations, ...view.pod.metadata?.annotations },
    };
    delete tombstone.metadata.labels?.[LABELS.cacheClaim];
    if ((await pods.delete(view.name, view.uid, view.pod.metadata?.resourceVersion)) !== "deleted") return;
    const created = await pods.create(tombstone);
    log.info("tombstone moved off its cache claim", {
      runnerSet: set.name,
      pod: view.name,
      result: created.result,
    });
  }

  async #unlease(set: RunnerSet, slot: Slot, lease: CacheLease, why: string, now: Date): Promise<void> {
    const annotations: Record<string, string | null> = { [ANNOTATIONS.cacheLease]: null };
    if (lease.state === "bound" && lease.uid !== undefined && slot.lastUse?.uid !== lease.uid) {
      // A Pod that mounted the claim and left no report may have been killed mid-write: the next one checks.
      const report = this.#reports.get(lease.uid);
      const lastUse: CacheLastUse = {
        pod: lease.pod,
        uid: lease.uid,
        clean: report?.clean ?? false,
        ...(report ? { dataBytes: report.dataBytes } : {}),
        at: now.toISOString(),
      };
      annotations[ANNOTATIONS.cacheLastUse] = JSON.stringify(lastUse);
      slot.lastUse = lastUse;
      if (!lastUse.clean) this.metrics.uncleanEnds.inc({ runner_set: set.name });
      if (lastUse.dataBytes !== undefined) {
        this.metrics.volumeBytes.set({ runner_set: set.name, claim: slot.name }, lastUse.dataBytes);
      }
    }
    const result = await this.#annotate(slot, annotations);
    if (result !== "updated") throw new Error(`claim ${slot.name} changed while being freed (${result})`);
    if (lease.uid) this.#reports.delete(lease.uid);
    this.#options.log.debug("cache claim free", {
      runnerSet: set.name,
      claim: slot.name,
      pod: lease.pod,
      why,
    });
  }

  async #annotate(
    slot: Slot,
    annotations: Record<string, string | null>,
  ): Promise<"updated" | "conflict" | "gone"> {
    const outcome = await this.#options.claims.annotate(
      slot.name,
      slot.claim.metadata?.resourceVersion ?? "",
      annotations,
    );
    if (outcome.result === "updated") slot.claim = outcome.claim;
    return outcome.result;
  }

  /**
   * Gives the gated Pod of `view` a claim before it is released: a free one (or the one already leased to it),
   * by replacing the Pod. Never waits for a claim: "miss" when none is free.
   */
  async attach(set: RunnerSet, view: RunnerPodView, now = new Date()): Promise<AttachResult> {
    const { pods, log } = this.#options;
    let slot = this.#reserved.get(set.name)?.get(view.name);
    if (slot) this.#reserved.get(set.name)?.delete(view.name);
    // The replacement is built for the set like any runner Pod, with the live Pod's labels and annotations (job
    // state, busy marks, repository …) carried over.
    const purpose = targetOf(view.pod);
    const built = purpose ? this.#options.podFor(set, purpose) : undefined;
    if (!built || built.metadata?.name !== view.name) {
      if (slot) this.#reserved.get(set.name)?.set(view.name, slot);
      return { result: "miss", reason: "the Pod's labels don't say which job or warm runner it is" };
    }
    built.metadata = {
      ...built.metadata,
      labels: { ...built.metadata?.labels, ...view.pod.metadata?.labels },
      annotations: { ...built.metadata?.annotations, ...view.pod.metadata?.annotations },
    };
    const free = this.#free.get(set.name) ?? [];
    const target = jobTargetOf(view.pod);
    // Per repository: a warm runner takes a job of any repository, so it can't be given one's cache.
    const repository = set.cache?.scope === "repository" ? (target?.repository ?? null) : undefined;
    if (!slot && repository === null) {
      return { result: "miss", reason: "cache claims are per repository and this runner's isn't known yet" };
    }
    // A reserved claim's lease says whether it is to be emptied (its repository annotation is already ours).
    let wipe = slot ? leaseOf(slot.claim)?.wipe === true : false;
    while (!slot) {
      const candidate = takeClaim(free, repository ?? undefined);
      if (!candidate) return { result: "miss", reason: "every cache claim is in use" };
      const emptied = typeof repository === "string" && holdsOtherData(candidate.claim, repository);
      const lease: CacheLease = {
        pod: view.name,
        state: "replacing",
        at: now.toISOString(),
        ...(target ? { target } : {}),
        queuedAt: new Date(view.createdAtMs).toISOString(),
        ...(emptied ? { wipe: true } : {}),
      };
      // Taken only if nobody wrote the claim since it was read (another replica that still thinks it leads).
      // The repository is recorded with the lease: from now on the claim's data is this repository's (scope
      // runnerSet: mixed, so no repository).
      const annotations = {
        [ANNOTATIONS.cacheLease]: JSON.stringify(lease),
        [ANNOTATIONS.cacheRepository]: repository ?? null,
      };
      if ((await this.#annotate(candidate, annotations)) === "updated") {
        slot = candidate;
        wipe = emptied;
      }
    }

    // Only the object we read: its replacement copies its labels and annotations (job state, busy marks), so a
    // Pod changed since (an event's patch the informer hasn't shown yet) is left for the next pass.
    const deleted = await pods.delete(view.name, view.uid, view.pod.metadata?.resourceVersion);
    if (deleted !== "deleted") {
      // Deleted by someone else, changed, or already replaced: give the claim back; the next pass decides again.
      await this.#annotate(slot, { [ANNOTATIONS.cacheLease]: null });
      return { result: "deferred", reason: `the gated Pod is ${deleted}` };
    }
    const replacement = withCacheClaim(built, set, {
      claim: slot.name,
      check: slot.lastUse !== undefined && !slot.lastUse.clean,
      wipe,
      queuedAt: new Date(view.createdAtMs).toISOString(),
    });
    const created = await pods.create(replacement);
    if (created.result === "exists") {
      // A duplicate delivery recreated the gated Pod in between. It keeps the lease ("replacing", so it is
      // reserved for this Pod) and the next pass replaces it again.
      return { result: "deferred", reason: "a Pod of this name was created meanwhile" };
    }
    const fresh = viewPod(created.pod);
    const bound: CacheLease = {
      pod: view.name,
      ...(fresh.uid ? { uid: fresh.uid } : {}),
      state: "bound",
      at: now.toISOString(),
    };
    // Best effort: if this write is lost, the next pass binds the lease from the Pod that mounts the claim.
    await this.#annotate(slot, { [ANNOTATIONS.cacheLease]: JSON.stringify(bound) }).catch(() => "conflict");
    log.info("cache claim leased", {
      runnerSet: set.name,
      pod: view.name,
      claim: slot.name,
      check: slot.lastUse !== undefined && !slot.lastUse.clean,
      wipe,
    });
    return { result: "attached", view: fresh, claim: slot.name };
  }

  /** Counts a released Pod of a cached set as a hit (its daemon is on a claim) or a miss. */
  countRelease(set: RunnerSet, pod: V1Pod): void {
    if (!set.cache) return;
    this.metrics.releases.inc({ runner_set: set.name, result: claimOf(pod) ? "hit" : "miss" });
  }
}
