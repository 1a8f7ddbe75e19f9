// kwok as the test cluster's Nodes and kubelets: a few fake Nodes with real capacity, which the real scheduler
// places Pods on, and the Stages in kwok-stages.yaml that move a bound Pod to Running, end a runner when a test sets
// the exit-code annotation, and remove a deleted Pod. kwok runs as its own user ("kwok", a client certificate from
// the test CA) with a ClusterRole of what a kubelet does here.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { apiGet, apiPost, kubeconfigYaml } from "./api.ts";
import type { ControlPlaneAccess } from "./controllers.ts";
import { Daemon } from "./daemon.ts";
import { waitUntil } from "./net.ts";

/** The annotation a test sets on a running runner Pod to end it: the runner container exits with this code. */
export const EXIT_CODE_ANNOTATION = "kwok.dind-k8s.test/exit-code";

/** kwok manages exactly the Nodes that carry this annotation. */
const MANAGED = { key: "kwok.x-k8s.io/node", value: "fake" } as const;

/** Capacity of each fake Node: enough for the chaos test's runners, small enough that a set can ask for more. */
export const NODE_CAPACITY = { cpu: "16", memory: "64Gi", "ephemeral-storage": "1Ti", pods: "110" } as const;
export const NODE_NAMES = ["kwok-node-1", "kwok-node-2", "kwok-node-3"] as const;

/**
 * kwok renews each Node's Lease in kube-node-lease, the heartbeat a kubelet sends. Without it, nothing renews a
 * Node after its first status, so every node-monitor-grace-period (50 s) the node lifecycle controller marked all
 * Nodes NotReady and tainted them unreachable:NoExecute, and the scheduler refused Pods until kwok's node-ready Stage
 * set them Ready again — a test that started a Pod in that window waited, and one that read the taints failed.
 */
export const NODE_LEASE_SECONDS = 40;

/**
 * kwok's Nodes take only Pods that tolerate this taint (the tests' runner sets do, realNodesRunnerSetYaml): a Pod a
 * test makes only to look at (admission, a dry run) is never run by accident.
 */
export const KWOK_TAINT = { key: "kwok.dind-k8s.test/node", value: "fake", effect: "NoSchedule" } as const;
export const KWOK_TOLERATION = {
  key: KWOK_TAINT.key,
  operator: "Equal",
  value: KWOK_TAINT.value,
  effect: KWOK_TAINT.effect,
};

const KWOK_RULES = [
  { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch", "update", "patch"] },
  { apiGroups: [""], resources: ["nodes/status"], verbs: ["update", "patch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "update", "patch", "delete"] },
  { apiGroups: [""], resources: ["pods/status"], verbs: ["update", "patch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create", "update", "patch"] },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "update", "patch"] },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "list", "watch", "create", "update", "patch"],
  },
];

function fakeNode(name: string): object {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { [MANAGED.key]: MANAGED.value },
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        type: "kwok",
      },
    },
    spec: { taints: [KWOK_TAINT] },
    status: { capacity: NODE_CAPACITY, allocatable: NODE_CAPACITY },
  };
}

export async function startKwok(kwok: string, access: ControlPlaneAccess, runDir: string): Promise<Daemon> {
  const admin = { server: access.server, caPem: access.caPem, token: access.adminToken };
  await apiPost(admin, "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    metadata: { name: "dind-k8s-test:kwok" },
    rules: KWOK_RULES,
  });
  await apiPost(admin, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: "dind-k8s-test:kwok" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "dind-k8s-test:kwok" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "kwok" }],
  });
  const credentials = await access.signClientCertificate("kwok", "kwok");
  const kubeconfig = join(runDir, "kwok.kubeconfig");
  await writeFile(kubeconfig, kubeconfigYaml(access.server, access.caPem, "kwok", credentials), {
    mode: 0o600,
  });
  for (const name of NODE_NAMES) await apiPost(admin, "/api/v1/nodes", fakeNode(name));

  const logFile = join(runDir, "kwok.log");
  const daemon = Daemon.start(
    "kwok",
    kwok,
    [
      `--kubeconfig=${kubeconfig}`,
      `--config=${join(import.meta.dirname, "kwok-stages.yaml")}`,
      `--manage-nodes-with-annotation-selector=${MANAGED.key}=${MANAGED.value}`,
      "--cidr=10.244.0.0/16",
      "--node-ip=127.0.0.1",
      `--node-lease-duration-seconds=${NODE_LEASE_SECONDS}`,
      "--v=INFO",
    ],
    logFile,
  );
  try {
    await waitUntil(
      "kwok (its Nodes Ready)",
      async () => {
        const { body } = await apiGet(access.server, access.caPem, access.adminToken, "/api/v1/nodes");
        const nodes = (JSON.parse(body) as { items: NodeReadiness[] }).items;
        return NODE_NAMES.every((name) => nodes.some((node) => node.metadata.name === name && isReady(node)));
      },
      { timeoutMs: 60_000, exited: daemon.exited, logFile },
    );
  } catch (error: unknown) {
    await daemon.stop();
    throw error;
  }
  return daemon;
}

interface NodeReadiness {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}

function isReady(node: NodeReadiness): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}
