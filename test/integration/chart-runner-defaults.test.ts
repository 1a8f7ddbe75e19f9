// What the chart's default values give a runner Pod and its network, from `helm template` with the real helm:
// resource requests and limits (ephemeral-storage included) and a sized Docker data volume on every Pod the
// scaler builds from the chart's ConfigMap, and a NetworkPolicy whose egress never reaches the cloud metadata
// endpoint, the link-local ranges or the scaler's own Pods, but reaches the rest.
import { join } from "node:path";
import type { V1NetworkPolicy, V1NetworkPolicyPeer } from "@kubernetes/client-node";
import { describe, expect, inject, it } from "vitest";
import { buildRunnerPod } from "../../src/scaler/runner-pod/build-runner-pod.ts";
import { chartConfig, findObject, renderChart, VALUES_FIXTURES } from "../helpers/chart.ts";

const env = inject("testenv");
const render = (values?: Record<string, unknown>, fixture = "minimal.yaml") =>
  renderChart(env, {
    release: "ci",
    namespace: "dind-k8s",
    files: [join(VALUES_FIXTURES, fixture)],
    ...(values ? { values } : {}),
  });

/** An IPv4 or IPv6 address (or a CIDR's base) as a number, with its bit width. */
function address(text: string): { value: bigint; bits: number } {
  if (text.includes(":")) {
    const [head = "", tail = ""] = text.split("::");
    const groups = (part: string) => (part === "" ? [] : part.split(":"));
    const left = groups(head);
    const right = text.includes("::") ? groups(tail) : [];
    const all = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
    return {
      value: all.reduce((n, group) => (n << 16n) + BigInt(Number.parseInt(group, 16)), 0n),
      bits: 128,
    };
  }
  return { value: text.split(".").reduce((n, octet) => (n << 8n) + BigInt(Number(octet)), 0n), bits: 32 };
}

function inCidr(ip: string, cidr: string): boolean {
  const [base = "", prefix = "0"] = cidr.split("/");
  const a = address(ip);
  const b = address(base);
  if (a.bits !== b.bits) return false;
  const shift = BigInt(a.bits - Number(prefix));
  return a.value >> shift === b.value >> shift;
}

/** Does some egress rule let a runner Pod reach this address outside the cluster (an ipBlock)? */
function egressAdmits(policy: V1NetworkPolicy, ip: string): boolean {
  const peers: V1NetworkPolicyPeer[] = (policy.spec?.egress ?? []).flatMap((rule) => rule.to ?? []);
  return peers.some(
    (peer) =>
      peer.ipBlock !== undefined &&
      inCidr(ip, peer.ipBlock.cidr) &&
      !(peer.ipBlock.except ?? []).some((except) => inCidr(ip, except)),
  );
}

describe("helm template of the default values", () => {
  it("every runner Pod the scaler builds from the ConfigMap has resource limits and a sized data volume", async () => {
    for (const fixture of ["minimal.yaml", "profiles.yaml"]) {
      const config = chartConfig(await render(undefined, fixture));
      for (const set of config.runnerSets) {
        const { pod } = buildRunnerPod(
          set,
          { kind: "warm", id: "a1" },
          {
            namespace: config.kubernetes.namespace,
            sidecars: "native",
          },
        );
        for (const container of [...(pod.spec?.initContainers ?? []), ...pod.spec!.containers]) {
          const what = `${fixture} ${set.name} ${container.name}`;
          expect(container.resources?.limits?.memory, what).toBeDefined();
          expect(container.resources?.limits?.["ephemeral-storage"], what).toBeDefined();
        }
        const data = pod.spec?.volumes?.find((volume) => volume.name === "dind-storage");
        if (data?.emptyDir && data.emptyDir.medium !== "Memory") {
          expect(data.emptyDir.sizeLimit, `${fixture} ${set.name}`).toBeDefined();
        }
      }
    }
  });

  it("the NetworkPolicy denies all ingress, and egress to metadata, link-local and the scaler's Pods", async () => {
    const policy = findObject<V1NetworkPolicy>(await render(), "NetworkPolicy");
    expect(policy.spec?.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec?.ingress).toEqual([]);
    for (const ip of ["169.254.169.254", "169.254.170.2", "169.254.0.1", "fd00:ec2::254", "fe80::1"]) {
      expect(egressAdmits(policy, ip), ip).toBe(false);
    }
    for (const ip of ["140.82.112.3", "8.8.8.8", "10.0.0.1", "2606:50c0:8000::153", "fd00:ec2::253"]) {
      expect(egressAdmits(policy, ip), ip).toBe(true);
    }
    // Pods: every Pod but those of the scaler (its Deployment's labels).
    const podPeers = (policy.spec?.egress ?? [])
      .flatMap((rule) => rule.to ?? [])
      .filter((p) => p.podSelector);
    const admitsPod = (labels: Record<string, string>) =>
      podPeers.some((peer) =>
        (peer.podSelector?.matchExpressions ?? []).every((term) => {
          const value = labels[term.key];
          const listed = value !== undefined && (term.values ?? []).includes(value);
          return term.operator === "In" ? listed : !listed;
        }),
      );
    expect(admitsPod({ "app.kubernetes.io/name": "dind-k8s", "app.kubernetes.io/component": "scaler" })).toBe(
      false,
    );
    expect(admitsPod({ "k8s-app": "kube-dns" })).toBe(true);
    expect(admitsPod({ "app.kubernetes.io/name": "dind-k8s", "app.kubernetes.io/component": "runner" })).toBe(
      true,
    );
    expect(admitsPod({ "app.kubernetes.io/name": "registry", "app.kubernetes.io/component": "scaler" })).toBe(
      true,
    );
  });

  it("blockedCIDRs and clusterCIDRs go into the except lists of their address family", async () => {
    const policy = findObject<V1NetworkPolicy>(
      await render({
        networkPolicy: {
          blockedCIDRs: ["169.254.169.254/32", "fd00:ec2::254/128"],
          clusterCIDRs: ["10.244.0.0/16", "fd00:10:244::/56"],
        },
      }),
      "NetworkPolicy",
    );
    expect(egressAdmits(policy, "169.254.169.254")).toBe(false);
    expect(egressAdmits(policy, "169.254.20.10")).toBe(true);
    expect(egressAdmits(policy, "10.244.3.7")).toBe(false);
    expect(egressAdmits(policy, "fd00:10:244::9")).toBe(false);
  });

  it("restrictEgress keeps its meaning: only networkPolicy.egress, an empty list denying all", async () => {
    const none = findObject<V1NetworkPolicy>(
      await render({ networkPolicy: { restrictEgress: true } }),
      "NetworkPolicy",
    );
    expect(none.spec?.policyTypes).toContain("Egress");
    expect(none.spec?.egress ?? []).toEqual([]);
    const rules = [{ ports: [{ port: 443, protocol: "TCP" }] }];
    const own = findObject<V1NetworkPolicy>(
      await render({ networkPolicy: { restrictEgress: true, egress: rules } }),
      "NetworkPolicy",
    );
    expect(own.spec?.egress).toEqual(rules);
  });
});
