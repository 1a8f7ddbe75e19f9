// Leader election on the real apiserver, as the scaler's ServiceAccount (the shipped Role).
import { CoordinationV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { LeaderElector } from "../../src/scaler/kube/leader-election.ts";
import { SCALER_LEASE_NAME, SCALER_ROLE_RULES } from "../../src/scaler/kube/rbac.ts";
import { silentLogger } from "../../src/scaler/observe/log.ts";
import { type CuttableProxy, startCuttableProxy } from "../helpers/cuttable-proxy.ts";
import {
  createTestNamespace,
  kubeClientOf,
  restrictedKubeConfig,
  type TestNamespace,
} from "../helpers/kube.ts";

const env = inject("testenv");
const LEASE_MS = 2_000;

let ns: TestNamespace;
beforeAll(async () => {
  ns = await createTestNamespace(env, "election");
});

async function until(check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

async function candidate(identity: string, { via }: { via?: CuttableProxy } = {}) {
  const kubeConfig = await restrictedKubeConfig(
    env,
    ns.name,
    `scaler-${identity}`,
    SCALER_ROLE_RULES.map((rule) => ({ ...rule }) as V1PolicyRule),
  );
  if (via) {
    // The same apiserver (its certificate names 127.0.0.1), through the proxy's port.
    const cluster = kubeConfig.getCurrentCluster()!;
    const server = new URL(cluster.server);
    server.port = String(via.port);
    kubeConfig.clusters = kubeConfig.clusters.map((c) =>
      c.name === cluster.name ? { ...c, server: server.origin } : c,
    );
  }
  const events: string[] = [];
  const elector = new LeaderElector({
    kube: await kubeClientOf(kubeConfig),
    namespace: ns.name,
    leaseName: SCALER_LEASE_NAME,
    identity,
    leaseDurationMs: LEASE_MS,
    retryPeriodMs: 200,
    renewDeadlineMs: 1_500,
    onStartedLeading: () => events.push("start"),
    onStoppedLeading: () => {
      events.push("stop");
    },
    log: silentLogger,
  });
  return { elector, events };
}

describe("leader election", () => {
  it("elects exactly one; the other takes over within the lease duration after the holder dies", async () => {
    const a = await candidate("replica-a");
    const b = await candidate("replica-b");
    a.elector.start();
    await until(() => a.elector.leading, 5_000);
    b.elector.start();
    // b keeps trying for longer than a lease duration while a renews: a stays the only leader.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 1.5));
    expect(a.elector.leading).toBe(true);
    expect(b.elector.leading).toBe(false);

    // a dies without releasing (as kill -9 would).
    await a.elector.stop({ release: false });
    const takeoverMs = await until(() => b.elector.leading, LEASE_MS * 3);
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_MS + 600);
    expect(b.events).toEqual(["start"]);

    const lease = await ns.kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: SCALER_LEASE_NAME, namespace: ns.name });
    expect(lease.spec?.holderIdentity).toBe("replica-b");
    expect(lease.spec?.leaseTransitions).toBe(1);

    // SIGTERM path: b releases, a newcomer leads at once (well within one lease duration).
    const c = await candidate("replica-c");
    c.elector.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(c.elector.leading).toBe(false);
    await b.elector.stop();
    expect(b.events).toEqual(["start", "stop"]);
    const handoverMs = await until(() => c.elector.leading, LEASE_MS * 3);
    expect(handoverMs).toBeLessThan(LEASE_MS / 2);
    await c.elector.stop();
  });

  it("a leader cut off from the apiserver (requests hang, no error) stops leading before another takes over", async () => {
    const apiserver = new URL(ns.kc.getCurrentCluster()!.server);
    const proxy = await startCuttableProxy({ host: apiserver.hostname, port: Number(apiserver.port) });
    try {
      const a = await candidate("cut-a", { via: proxy });
      const b = await candidate("cut-b");
      const lease = () =>
        ns.kc
          .makeApiClient(CoordinationV1Api)
          .deleteNamespacedLease({ name: SCALER_LEASE_NAME, namespace: ns.name })
          .catch(() => undefined);
      await lease();
      a.elector.start();
      await until(() => a.elector.leading, 5_000);
      b.elector.start();
      await new Promise((resolve) => setTimeout(resolve, 500));
      // The partition: a's renewals hang (client-node gives up after 30 s), they don't fail.
      proxy.cut();
      let aLeadingWhenBStarted: boolean | undefined;
      await until(() => {
        if (b.elector.leading && aLeadingWhenBStarted === undefined) aLeadingWhenBStarted = a.elector.leading;
        return b.elector.leading;
      }, LEASE_MS * 5);
      // a stepped down at its renew deadline, without an answer from the apiserver: never two leaders.
      expect(aLeadingWhenBStarted).toBe(false);
      expect(a.events).toEqual(["start", "stop"]);
      proxy.heal();
      await b.elector.stop();
      await a.elector.stop();
    } finally {
      await proxy.close();
    }
  });
});
