// Kubernetes helpers of the tests: clients and identities, test namespaces (deleted when their file ends), strict
// creates. Nothing here plays a cluster component: every test runs on the real scheduler, kwok and the real
// controller-manager (test/env/).
import { randomBytes } from "node:crypto";
import { request } from "node:https";
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import type { KubeClient } from "../../src/scaler/kube/client.ts";
import { kubeClientFromKubeConfig } from "../../src/scaler/kube/load.ts";
import { whileThrottled } from "../../src/scaler/kube/throttled.ts";
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
/** The namespaces this test file made, deleted when it ends (test/helpers/namespace-cleanup.ts). */
const created: TestNamespace[] = [];

/**
 * Deletes the namespaces made so far; the real namespace controller empties and removes them (Pods through
 * kwok, Secrets, claims). Not waited for: the next file needn't wait for this one's leftovers to go.
 */
export async function deleteTestNamespaces(): Promise<void> {
  const doomed = created.splice(0);
  await Promise.all(
    doomed.map(({ name, kc }) =>
      kc
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name })
        .catch((error: unknown) => {
          if (apiStatus(error) !== 404) throw error;
        }),
    ),
  );
}

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
  await whileThrottled(() => core.createNamespace({ body: { metadata: { name, labels } } }));
  created.push({ name, kc });
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
  await whileThrottled(() =>
    core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } }),
  );
  if (rules.length > 0) {
    await whileThrottled(() =>
      rbac.createNamespacedRole({ namespace, body: { metadata: { name: serviceAccount }, rules } }),
    );
    await whileThrottled(() =>
      rbac.createNamespacedRoleBinding({
        namespace,
        body: {
          metadata: { name: serviceAccount },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: serviceAccount },
          subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
        },
      }),
    );
  }
  const tokenRequest = await whileThrottled(() =>
    core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    }),
  );
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
 * POST `body` (JSON) to the apiserver at `path` with a bearer token: the status, the raw text and the Status
 * message (the text itself when it isn't JSON).
 */
export function postAs(
  env: TestEnv,
  path: string,
  body: unknown,
  token: string,
): Promise<{ status: number; text: string; message: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${env.kube.server}${path}`,
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
          let message = text;
          try {
            message = String((JSON.parse(text) as { message?: string }).message ?? text);
          } catch {
            // not JSON: keep the raw text
          }
          resolve({ status: res.statusCode ?? 0, text, message });
        });
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/**
 * POST an object with `fieldValidation=Strict`, so an unknown or duplicated field is an error
 * (client-node's generic create has no such option). Resolves with the stored object; rejects
 * with the apiserver's message.
 */
export async function createStrict<T extends KubernetesObject>(
  env: TestEnv,
  object: T,
  token = env.kube.adminToken,
): Promise<T> {
  const kind = object.kind ?? "";
  const plural = PLURALS[kind];
  if (!plural) throw new Error(`createStrict: add the plural of kind ${kind} to PLURALS`);
  const { status, text, message } = await postAs(
    env,
    `${collectionPath(object, plural)}?fieldValidation=Strict`,
    object,
    token,
  );
  if (status === 201 || status === 200) return JSON.parse(text) as T;
  throw new Error(`create ${kind} ${object.metadata?.name}: HTTP ${status}: ${message}`);
}
