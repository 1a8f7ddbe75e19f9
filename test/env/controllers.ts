// The real kube-scheduler and kube-controller-manager of the test cluster, started the way kubeadm starts them:
// each authenticates with its own client certificate (CN system:kube-scheduler, system:kube-controller-manager, the
// users the apiserver's built-in RBAC binds), and the controller-manager runs every controller under that
// controller's own ServiceAccount (--use-service-account-credentials, tokens through TokenRequest), so each one
// gets exactly the rights its bootstrap ClusterRole (system:controller:<name>) grants.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { apiGet, kubeconfigYaml } from "./api.ts";
import { Daemon } from "./daemon.ts";
import { freePort, waitUntil } from "./net.ts";

/**
 * The controllers the tests rely on: owner references are followed when an owner goes (a runner's JIT Secret goes
 * with its Pod), a deleted namespace is emptied and removed, every namespace gets its `default` ServiceAccount
 * (Pods are refused without it) and its kube-root-ca.crt ConfigMap (which every Pod's token volume projects). And
 * the node lifecycle controller: a new Node carries the not-ready taint (admission adds it) until this controller
 * sees it Ready and takes the taint off; without it the scheduler places nothing on kwok's Nodes. And the volume
 * ones: a claim binds to its PersistentVolume (the scheduler places a Pod only once its claims are bound), and a
 * claim or volume in use is kept until no Pod uses it (the apiserver's StorageObjectInUseProtection admission puts
 * their finalizers on; without these controllers a deleted claim — and its namespace — would never go).
 */
export const CONTROLLERS = [
  "garbage-collector-controller",
  "persistentvolume-binder-controller",
  "persistentvolumeclaim-protection-controller",
  "persistentvolume-protection-controller",
  "node-lifecycle-controller",
  "namespace-controller",
  "serviceaccount-controller",
  "serviceaccount-token-controller",
  "root-ca-certificate-publisher-controller",
] as const;

export interface ControlPlaneAccess {
  server: string;
  caPem: string;
  /** The apiserver's CA as a file, for the controller-manager's --root-ca-file. */
  caFile: string;
  /** Used only to probe /healthz of each component. */
  adminToken: string;
  /** The key the apiserver verifies ServiceAccount tokens with (legacy token Secrets are signed with it). */
  serviceAccountKeyFile: string;
  /** A client certificate for `user` (its CN) from the apiserver's client CA; `name` names its files. */
  signClientCertificate(name: string, user: string): Promise<{ certPem: string; keyPem: string }>;
}

interface Component {
  name: "kube-scheduler" | "kube-controller-manager";
  binary: string;
  user: string;
  flags: string[];
}

async function startComponent(
  component: Component,
  access: ControlPlaneAccess,
  runDir: string,
): Promise<Daemon> {
  const dir = join(runDir, component.name);
  const credentials = await access.signClientCertificate(component.name, component.user);
  const kubeconfig = join(runDir, `${component.name}.kubeconfig`);
  await writeFile(kubeconfig, kubeconfigYaml(access.server, access.caPem, component.user, credentials), {
    mode: 0o600,
  });
  const port = await freePort();
  const logFile = join(runDir, `${component.name}.log`);
  const daemon = Daemon.start(
    component.name,
    component.binary,
    [
      `--kubeconfig=${kubeconfig}`,
      // Its own /healthz and /metrics check callers against the apiserver, as the same user.
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
      // Its self-signed serving certificate lands here, so the probe can trust exactly it.
      `--cert-dir=${dir}`,
      // One instance per run: no Lease to win first.
      "--leader-elect=false",
      "--profiling=false",
      "--v=1",
      ...component.flags,
    ],
    logFile,
  );
  try {
    let caPem = "";
    await waitUntil(
      component.name,
      async () => {
        if (!caPem) caPem = await readFile(join(dir, `${component.name}.crt`), "utf8");
        const { status } = await apiGet(`https://127.0.0.1:${port}`, caPem, access.adminToken, "/healthz");
        return status === 200;
      },
      { timeoutMs: 60_000, exited: daemon.exited, logFile },
    );
  } catch (error: unknown) {
    await daemon.stop();
    throw error;
  }
  return daemon;
}

/** Starts both and waits until each serves /healthz; on a failure, stops what it started. */
export async function startControllers(
  binaries: { kubeScheduler: string; kubeControllerManager: string },
  access: ControlPlaneAccess,
  runDir: string,
): Promise<Daemon[]> {
  const components: Component[] = [
    { name: "kube-scheduler", binary: binaries.kubeScheduler, user: "system:kube-scheduler", flags: [] },
    {
      name: "kube-controller-manager",
      binary: binaries.kubeControllerManager,
      user: "system:kube-controller-manager",
      flags: [
        `--controllers=${CONTROLLERS.join(",")}`,
        "--use-service-account-credentials=true",
        `--service-account-private-key-file=${access.serviceAccountKeyFile}`,
        `--root-ca-file=${access.caFile}`,
      ],
    },
  ];
  const started = await Promise.allSettled(
    components.map((component) => startComponent(component, access, runDir)),
  );
  const daemons = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
    throw failed.reason;
  }
  return daemons;
}
