// One reconciler at a time across replicas, elected with a coordination.k8s.io Lease — the same
// protocol as client-go's leaderelection: the holder renews the Lease; others take it over when it has
// not changed for a whole lease duration *as they observed it* (their own clock, so clock skew between
// nodes doesn't matter); the holder gives it up on shutdown so a successor needn't wait.
import { CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../observe/log.ts";
import { KubeError, kubeStatus } from "./api-error.ts";
import type { KubeClient } from "./client.ts";

/** A Lease's times are MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/**
 * The Lease as the apiserver sends it: its times are strings. client-node types MicroTime as Date but passes it
 * through as it is (its serializer has no V1MicroTime), and the apiserver only takes six fractional digits, which
 * a Date's toISOString does not give: so the times stay strings, cast at the API client's edge.
 */
type Lease = Omit<V1Lease, "spec"> & {
  spec?: Omit<NonNullable<V1Lease["spec"]>, "acquireTime" | "renewTime"> & {
    acquireTime?: string;
    renewTime?: string;
  };
};

export interface LeaderElectionOptions {
  kube: KubeClient;
  namespace: string;
  leaseName: string;
  identity: string;
  /** Others wait this long without a renewal before taking over. */
  leaseDurationMs: number;
  /** How often to try to acquire or renew. */
  retryPeriodMs: number;
  /** The holder steps down if it could not renew for this long (< leaseDuration). */
  renewDeadlineMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void | Promise<void>;
  log: Logger;
}

export class LeaderElector {
  readonly #options: LeaderElectionOptions;
  readonly #leases: CoordinationV1Api;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** Steps down at the renew deadline even while a renewal hangs (an apiserver cut off answers nothing). */
  #watchdog: NodeJS.Timeout | undefined;
  #observed: { holder: string; renewTime: string; at: number } | undefined;
  #lastRenewal = 0;
  #tick: Promise<void> = Promise.resolve();
  /** Annotations the leader keeps on the Lease (small state that must survive a leader change). */
  readonly #annotations = new Map<string, string>();
  #seenAnnotations: Record<string, string> = {};

  constructor(options: LeaderElectionOptions) {
    this.#options = options;
    this.#leases = options.kube.api(CoordinationV1Api);
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** An annotation of the Lease as last read (written by whichever replica led). */
  annotation(key: string): string | undefined {
    return this.#annotations.get(key) ?? this.#seenAnnotations[key];
  }

  /** Written to the Lease with the next renewal. */
  setAnnotation(key: string, value: string): void {
    this.#annotations.set(key, value);
  }

  start(): void {
    const loop = () => {
      if (this.#stopped) return;
      this.#tick = this.#tryAcquireOrRenew()
        .catch((error: unknown) => {
          this.#options.log.warn("leader election: could not reach the Lease", { error: String(error) });
        })
        .then(async () => {
          if (this.#leading && Date.now() - this.#lastRenewal > this.#options.renewDeadlineMs) {
            await this.#stepDown("could not renew the Lease before the renew deadline");
          }
        })
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#options.retryPeriodMs);
        });
    };
    loop();
    // The loop checks the deadline only after a renewal settles, and a request to an unreachable apiserver may
    // take the client's whole timeout (30 s) — longer than the lease: another replica would lead meanwhile.
    this.#watchdog = setInterval(
      () => {
        if (this.#leading && Date.now() - this.#lastRenewal > this.#options.renewDeadlineMs) {
          void this.#stepDown("could not renew the Lease before the renew deadline");
        }
      },
      Math.max(10, Math.min(this.#options.retryPeriodMs, 250)),
    );
  }

  /**
   * Stops electing; a holder releases the Lease at once so another replica takes over without waiting.
   * `release: false` stops as a crash would (tests use it to prove takeover after a lease duration).
   */
  async stop({ release = true }: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#watchdog);
    await this.#tick;
    if (this.#leading && !release) {
      this.#leading = false;
      await this.#options.onStoppedLeading();
    } else if (this.#leading) {
      // Stop leading first — onStoppedLeading waits for the reconcile pass in flight — and only then hand the
      // Lease over: released the other way round, a successor could release runners while our last pass
      // still does, and two passes together can go past maxRunners.
      await this.#stepDown("shutting down");
      await this.#release().catch((error: unknown) => {
        this.#options.log.warn("leader election: could not release the Lease", { error: String(error) });
      });
    }
  }

  async #stepDown(reason: string): Promise<void> {
    if (!this.#leading) return;
    this.#leading = false;
    this.#options.log.warn("stopped leading", { identity: this.#options.identity, reason });
    await this.#options.onStoppedLeading();
  }

  #becomeLeader(): void {
    this.#lastRenewal = Date.now();
    if (this.#leading) return;
    this.#leading = true;
    this.#options.log.info("started leading", {
      identity: this.#options.identity,
      lease: this.#options.leaseName,
    });
    this.#options.onStartedLeading();
  }

  #replace(lease: Lease): Promise<V1Lease> {
    return this.#leases.replaceNamespacedLease({
      name: this.#options.leaseName,
      namespace: this.#options.namespace,
      body: lease as V1Lease,
    });
  }

  async #read(): Promise<Lease | undefined> {
    try {
      const { leaseName: name, namespace } = this.#options;
      return (await this.#leases.readNamespacedLease({ name, namespace })) as Lease;
    } catch (error: unknown) {
      if (kubeStatus(error) === 404) return undefined;
      throw new KubeError(`read Lease ${this.#options.namespace}/${this.#options.leaseName}`, error);
    }
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const { identity, leaseName, namespace, leaseDurationMs } = this.#options;
    const now = microTime();
    const durationSeconds = Math.max(1, Math.round(leaseDurationMs / 1000));
    const lease = await this.#read();
    if (!lease) {
      try {
        const body: Lease = {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: leaseName, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        };
        await this.#leases.createNamespacedLease({ namespace, body: body as V1Lease });
        this.#becomeLeader();
      } catch (error: unknown) {
        if (kubeStatus(error) !== 409) throw new KubeError(`create Lease ${namespace}/${leaseName}`, error);
      }
      return;
    }
    this.#seenAnnotations = { ...lease.metadata?.annotations };
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const renewTime = spec.renewTime ? new Date(spec.renewTime).toISOString() : "";
    if (!this.#observed || this.#observed.holder !== holder || this.#observed.renewTime !== renewTime) {
      this.#observed = { holder, renewTime, at: Date.now() };
    }
    const heldByOther = holder !== "" && holder !== identity;
    const observedDurationMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && Date.now() - this.#observed.at < observedDurationMs) {
      if (this.#leading) await this.#stepDown(`${holder} holds the Lease`);
      return;
    }
    const takingOver = holder !== identity;
    // What this replica wrote in an earlier term is older than what the holder since then wrote: read theirs.
    if (takingOver) this.#annotations.clear();
    this.#withAnnotations(lease);
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: now,
      ...(takingOver ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      // resourceVersion in the body makes this a compare-and-swap: a concurrent taker gets 409.
      await this.#replace(lease);
      this.#becomeLeader();
    } catch (error: unknown) {
      if (kubeStatus(error) !== 409) throw new KubeError(`update Lease ${namespace}/${leaseName}`, error);
    }
  }

  /** The annotations this holder keeps, merged into the Lease it is about to write. */
  #withAnnotations(lease: Lease): void {
    if (this.#annotations.size > 0 && lease.metadata) {
      lease.metadata.annotations = {
        ...lease.metadata.annotations,
        ...Object.fromEntries(this.#annotations),
      };
    }
  }

  async #release(): Promise<void> {
    const lease = await this.#read();
    if (!lease || lease.spec?.holderIdentity !== this.#options.identity) return;
    // The last pass's cursors go with the Lease, so the successor reads on from exactly there.
    this.#withAnnotations(lease);
    lease.spec = { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime() };
    await this.#replace(lease);
  }
}
