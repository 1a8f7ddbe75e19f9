// Kubernetes helpers of the tests: clients and identities, test namespaces, strict creates. And the last
// stand-ins for the scheduler, the kubelet and the garbage collector (schedulePod, setPodPhase,
// finalizeTerminatingPods, collectGarbage), used only by cache-pool.test.ts, whose Pods need the dind
// sidecar's termination message that kwok's Stages do not write; every other test runs on the real
// scheduler, kwok and the real controller-manager (test/env/).
import { randomBytes } from "node:crypto";
import { request } from "node:https";
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  RbacAuthorizationV1Api,
  type V1ContainerStatus,
  type V1Pod,
  type V1PodCondition,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import type { KubeClient } from "../../src/scaler/kube/client.ts";
import { kubeClientFromKubeConfig } from "../../src/scaler/kube/load.ts";
import type { TestEnv } from "../env/types.ts";
import { eventually } from "./eventually.ts";

export function kubeConfigFor(env: TestEnv, user: { name: string; token: string }): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: "dind-k8s-test",
        server: env.kube.server,
        caData: Buffer.from(env.kube.caPem).toString("base64"),
      },
    ],
    users: [{ name: user.name, token: user.token }],
    contexts: [{ name: user.name, cluster: "dind-k8s-test", user: user.name }],
    currentContext: user.name,
  });
  return kc;
}

/** The scaler's own client (pooled, with its checks), with the same credentials as `kc`. */
export async function kubeClientOf(kc: KubeConfig): Promise<KubeClient> {
  return kubeClientFromKubeConfig(kc, `test kubeconfig, context "${kc.getCurrentContext()}"`);
}

export function adminKubeConfig(env: TestEnv): KubeConfig {
  return kubeConfigFor(env, { name: "admin", token: env.kube.adminToken });
}

/** The HTTP status of a client-node error, or undefined for anything else. */
export function apiStatus(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

export interface TestNamespace {
  name: string;
  /** Admin KubeConfig (system:masters). */
  kc: KubeConfig;
}

/**
 * A fresh namespace for one test file (random suffix, so parallel files never collide), optionally enforcing a Pod
 * Security level. Returns once the controller-manager's ServiceAccount controller has created its `default`
 * ServiceAccount: until then the apiserver refuses Pods there, as on any cluster.
 */
export async function createTestNamespace(
  env: TestEnv,
  prefix: string,
  { podSecurity }: { podSecurity?: PodSecurityLevel } = {},
): Promise<TestNamespace> {
  const kc = adminKubeConfig(env);
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString("hex")}`.toLowerCase().slice(0, 63);
  const labels: Record<string, string> = {};
  if (podSecurity) {
    labels["pod-security.kubernetes.io/enforce"] = podSecurity;
    labels["pod-security.kubernetes.io/enforce-version"] = "latest";
  }
  await core.createNamespace({ body: { metadata: { name, labels } } });
  await eventually(
    `the default ServiceAccount of namespace ${name}`,
    () => core.readNamespacedServiceAccount({ name: "default", namespace: name }),
    { timeoutMs: 30_000 },
  );
  return { name, kc };
}

/**
 * A KubeConfig acting as ServiceAccount `serviceAccount` of `namespace`, allowed exactly `rules`
 * there (Role + RoleBinding), authenticated with a real bound token from the TokenRequest API.
 */
export async function restrictedKubeConfig(
  env: TestEnv,
  namespace: string,
  serviceAccount: string,
  rules: V1PolicyRule[],
): Promise<KubeConfig> {
  const admin = adminKubeConfig(env);
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } });
  if (rules.length > 0) {
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: serviceAccount }, rules } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: serviceAccount },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: serviceAccount },
        subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
      },
    });
  }
  const tokenRequest = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = tokenRequest.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return kubeConfigFor(env, { name: `system:serviceaccount:${namespace}:${serviceAccount}`, token });
}

/** The REST collection path of an object (core and named groups, namespaced or not). */
function collectionPath(object: KubernetesObject, plural: string): string {
  const apiVersion = object.apiVersion ?? "v1";
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const namespace = object.metadata?.namespace;
  return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
}

const PLURALS: Record<string, string> = {
  Pod: "pods",
  Secret: "secrets",
  ConfigMap: "configmaps",
  Service: "services",
  ServiceAccount: "serviceaccounts",
  PersistentVolumeClaim: "persistentvolumeclaims",
  Role: "roles",
  RoleBinding: "rolebindings",
  ClusterRole: "clusterroles",
  ClusterRoleBinding: "clusterrolebindings",
  Deployment: "deployments",
  NetworkPolicy: "networkpolicies",
  ResourceQuota: "resourcequotas",
  PodDisruptionBudget: "poddisruptionbudgets",
  Namespace: "namespaces",
  Lease: "leases",
  Ingress: "ingresses",
  Job: "jobs",
  ServiceMonitor: "servicemonitors",
  ValidatingAdmissionPolicy: "validatingadmissionpolicies",
  ValidatingAdmissionPolicyBinding: "validatingadmissionpolicybindings",
};

/**
 * POST an object with `fieldValidation=Strict`, so an unknown or duplicated field is an error
 * (client-node's generic create has no such option). Resolves with the stored object; rejects
 * with the apiserver's message.
 */
export function createStrict<T extends KubernetesObject>(
  env: TestEnv,
  object: T,
  token = env.kube.adminToken,
): Promise<T> {
  const kind = object.kind ?? "";
  const plural = PLURALS[kind];
  if (!plural) throw new Error(`createStrict: add the plural of kind ${kind} to PLURALS`);
  const body = JSON.stringify(object);
  return new Promise((resolve, reject) => {
    const req = request(
      `${env.kube.server}${collectionPath(object, plural)}?fieldValidation=Strict`,
      {
        method: "POST",
        ca: env.kube.caPem,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          if (res.statusCode === 201 || res.statusCode === 200) resolve(JSON.parse(text) as T);
          else {
            let message = text;
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? text;
            } catch {
              // not JSON: keep the raw text
            }
            reject(new Error(`create ${kind} ${object.metadata?.name}: HTTP ${res.statusCode}: ${message}`));
          }
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The scheduler's part: bind the Pod to a node (refused by the apiserver while it has scheduling gates). */
export async function schedulePod(
  kc: KubeConfig,
  namespace: string,
  name: string,
  nodeName = "test-node-1",
): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPodBinding({
    name,
    namespace,
    body: { metadata: { name }, target: { apiVersion: "v1", kind: "Node", name: nodeName } },
  });
}

export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed";

export interface PodPhaseOptions {
  /** Exit code of the main containers when the phase is Succeeded/Failed (default 0 / 1). */
  exitCode?: number;
  /** Per-container exit codes overriding `exitCode`. */
  exitCodes?: Record<string, number>;
  /** Reason on a Pending Pod's PodScheduled condition, e.g. "Unschedulable". */
  pendingReason?: string;
}

function isSidecar(container: { restartPolicy?: string }): boolean {
  return container.restartPolicy === "Always";
}

/**
 * The kubelet's part: set the Pod's phase, conditions and container statuses as a kubelet would
 * report them (native sidecars stay running until the Pod ends; plain init containers have
 * completed once the Pod runs). Retries on write conflicts.
 */
export async function setPodPhase(
  kc: KubeConfig,
  namespace: string,
  name: string,
  phase: PodPhase,
  options: PodPhaseOptions = {},
): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  for (let attempt = 0; ; attempt++) {
    const pod = await core.readNamespacedPod({ name, namespace });
    pod.status = podStatusFor(pod, phase, options);
    try {
      return await core.replaceNamespacedPodStatus({ name, namespace, body: pod });
    } catch (error: unknown) {
      if (apiStatus(error) !== 409 || attempt >= 5) throw error;
    }
  }
}

function podStatusFor(pod: V1Pod, phase: PodPhase, options: PodPhaseOptions): V1Pod["status"] {
  const now = new Date();
  const running = { running: { startedAt: now } };
  const ended = phase === "Succeeded" || phase === "Failed";
  const exitCodeOf = (container: string) =>
    options.exitCodes?.[container] ?? options.exitCode ?? (phase === "Failed" ? 1 : 0);
  const terminated = (container: string) => ({
    terminated: {
      exitCode: exitCodeOf(container),
      reason: exitCodeOf(container) === 0 ? "Completed" : "Error",
      startedAt: now,
      finishedAt: now,
    },
  });
  const base = (container: { name: string; image?: string }): V1ContainerStatus => ({
    name: container.name,
    image: container.image ?? "",
    imageID: "",
    ready: false,
    restartCount: 0,
    started: false,
  });

  const initContainerStatuses: V1ContainerStatus[] = (pod.spec?.initContainers ?? []).map((container) => {
    if (phase === "Pending") {
      return { ...base(container), state: { waiting: { reason: "PodInitializing" } } };
    }
    if (isSidecar(container)) {
      // A native sidecar gets SIGTERM once the main containers exit; it exits too.
      return ended
        ? { ...base(container), state: terminated("sidecar") }
        : { ...base(container), ready: true, started: true, state: running };
    }
    return {
      ...base(container),
      ready: true,
      state: { terminated: { exitCode: 0, reason: "Completed", startedAt: now, finishedAt: now } },
    };
  });
  const containerStatuses: V1ContainerStatus[] = (pod.spec?.containers ?? []).map((container) => {
    if (phase === "Pending")
      return { ...base(container), state: { waiting: { reason: "ContainerCreating" } } };
    if (ended) return { ...base(container), state: terminated(container.name) };
    return { ...base(container), ready: true, started: true, state: running };
  });

  const condition = (type: string, status: boolean, reason?: string): V1PodCondition => ({
    type,
    status: status ? "True" : "False",
    lastTransitionTime: now,
    ...(reason ? { reason } : {}),
  });
  const scheduled = Boolean(pod.spec?.nodeName);
  const conditions: V1PodCondition[] =
    phase === "Pending"
      ? [
          condition(
            "PodScheduled",
            scheduled,
            scheduled ? undefined : (options.pendingReason ?? "Unschedulable"),
          ),
        ]
      : [
          condition("PodScheduled", true),
          condition("Initialized", true),
          condition("ContainersReady", phase === "Running"),
          condition("Ready", phase === "Running", phase === "Running" ? undefined : "PodCompleted"),
        ];
  return {
    ...pod.status,
    phase,
    conditions,
    initContainerStatuses,
    containerStatuses,
    ...(phase === "Pending"
      ? {}
      : { startTime: pod.status?.startTime ?? now, hostIP: "127.0.0.1", podIP: "10.244.0.10" }),
  };
}

/**
 * The kubelet's part of deletion: a bound Pod that was deleted gracefully stays Terminating until
 * its kubelet confirms. Finishes that for every terminating Pod of the namespace; returns how many.
 */
export async function finalizeTerminatingPods(kc: KubeConfig, namespace: string): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace });
  let finalized = 0;
  for (const pod of pods.items) {
    if (!pod.metadata?.deletionTimestamp || !pod.metadata.name) continue;
    try {
      await core.deleteNamespacedPod({ name: pod.metadata.name, namespace, gracePeriodSeconds: 0 });
      finalized++;
    } catch (error: unknown) {
      if (apiStatus(error) !== 404) throw error;
    }
  }
  return finalized;
}

/**
 * The garbage collector's part: deletes namespaced objects (Secrets, ConfigMaps, PVCs, Pods)
 * whose every ownerReference names an owner that no longer exists, until nothing changes.
 * Returns the number of objects deleted.
 */
export async function collectGarbage(kc: KubeConfig, namespace: string): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  let deleted = 0;
  for (;;) {
    const [pods, secrets, configMaps, claims] = await Promise.all([
      core.listNamespacedPod({ namespace }),
      core.listNamespacedSecret({ namespace }),
      core.listNamespacedConfigMap({ namespace }),
      core.listNamespacedPersistentVolumeClaim({ namespace }),
    ]);
    const live = new Set(
      [...pods.items, ...secrets.items, ...configMaps.items, ...claims.items]
        .map((object) => object.metadata?.uid)
        .filter((uid): uid is string => Boolean(uid)),
    );
    const orphaned = (object: KubernetesObject) => {
      const owners = object.metadata?.ownerReferences ?? [];
      return owners.length > 0 && owners.every((owner) => !live.has(owner.uid));
    };
    const deletions: Promise<unknown>[] = [];
    const ignoreGone = (error: unknown) => {
      if (apiStatus(error) !== 404) throw error;
    };
    for (const pod of pods.items.filter(orphaned)) {
      deletions.push(
        core
          .deleteNamespacedPod({ name: pod.metadata!.name!, namespace, gracePeriodSeconds: 0 })
          .catch(ignoreGone),
      );
    }
    for (const secret of secrets.items.filter(orphaned)) {
      deletions.push(
        core.deleteNamespacedSecret({ name: secret.metadata!.name!, namespace }).catch(ignoreGone),
      );
    }
    for (const configMap of configMaps.items.filter(orphaned)) {
      deletions.push(
        core.deleteNamespacedConfigMap({ name: configMap.metadata!.name!, namespace }).catch(ignoreGone),
      );
    }
    for (const claim of claims.items.filter(orphaned)) {
      deletions.push(
        core
          .deleteNamespacedPersistentVolumeClaim({ name: claim.metadata!.name!, namespace })
          .catch(ignoreGone),
      );
    }
    if (deletions.length === 0) return deleted;
    await Promise.all(deletions);
    deleted += deletions.length;
  }
}
