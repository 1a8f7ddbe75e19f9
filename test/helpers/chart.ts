// Runs the test environment's helm on charts/dind-k8s and applies what it renders to the test apiserver with strict
// field validation, in the order helm would install it.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CoreV1Api,
  type KubernetesObject,
  type V1ConfigMap,
  type V1ResourceQuota,
} from "@kubernetes/client-node";
import { parseAllDocuments, stringify } from "yaml";
import { type Config, parseConfig } from "../../src/scaler/config/load.ts";
import type { TestEnv } from "../env/types.ts";
import { adminKubeConfig, createStrict, createTestNamespace } from "./kube.ts";

export const CHART_DIR = join(import.meta.dirname, "..", "..", "charts", "dind-k8s");
export const VALUES_FIXTURES = join(import.meta.dirname, "..", "fixtures", "values");

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with its config, cache and data under the run's directory; never throws on a non-zero exit. */
export async function helm(env: TestEnv, args: readonly string[]): Promise<HelmResult> {
  const home = join(env.runDir, "helm");
  await mkdir(home, { recursive: true });
  return new Promise((resolve, reject) => {
    execFile(
      env.parts.helm,
      args,
      {
        env: {
          PATH: process.env.PATH,
          HOME: home,
          HELM_CONFIG_HOME: join(home, "config"),
          HELM_CACHE_HOME: join(home, "cache"),
          HELM_DATA_HOME: join(home, "data"),
          KUBECONFIG: env.kube.adminKubeconfigPath,
        },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(error);
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
  });
}

let valueFiles = 0;

/** Writes values (an object, or YAML text) to a file under the run's directory; returns its path. */
export async function valuesFile(env: TestEnv, values: Record<string, unknown> | string): Promise<string> {
  const dir = join(env.runDir, "helm", "values");
  await mkdir(dir, { recursive: true });
  const path = join(dir, `values-${process.pid}-${++valueFiles}.yaml`);
  await writeFile(path, typeof values === "string" ? values : stringify(values));
  return path;
}

export interface RenderOptions {
  release: string;
  namespace: string;
  /** Values files, in order (later ones win), then `values` as one more file. */
  files?: string[];
  values?: Record<string, unknown>;
}

function valuesArgs(files: string[]): string[] {
  return files.flatMap((file) => ["--values", file]);
}

/** `helm template`; rejects with helm's stderr when it fails. */
export async function renderChart(env: TestEnv, options: RenderOptions): Promise<KubernetesObject[]> {
  const files = [...(options.files ?? [])];
  if (options.values) files.push(await valuesFile(env, options.values));
  const result = await helm(env, [
    "template",
    options.release,
    CHART_DIR,
    "--namespace",
    options.namespace,
    ...valuesArgs(files),
  ]);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  return parseManifests(result.stdout);
}

export function parseManifests(text: string): KubernetesObject[] {
  // YAML 1.1, as helm and kubectl (go-yaml) read manifests.
  return parseAllDocuments(text, { version: "1.1" })
    .map((document) => document.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => object !== null && object !== undefined);
}

// helm's install order (pkg/releaseutil/kind_sorter.go), for the kinds the chart renders.
const INSTALL_ORDER = [
  "Namespace",
  "NetworkPolicy",
  "ResourceQuota",
  "PodDisruptionBudget",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "Role",
  "RoleBinding",
  "Service",
  "Deployment",
  "Ingress",
];

export function inInstallOrder(objects: readonly KubernetesObject[]): KubernetesObject[] {
  const rank = (object: KubernetesObject) => {
    const index = INSTALL_ORDER.indexOf(object.kind ?? "");
    return index === -1 ? INSTALL_ORDER.length : index;
  };
  return [...objects].sort((a, b) => rank(a) - rank(b));
}

/**
 * The controller-manager's part for a new ResourceQuota (the test cluster has none): its status says what it
 * bounds and that nothing is used yet. Until then the apiserver's quota admission refuses every Pod.
 */
async function settleQuota(env: TestEnv, quota: V1ResourceQuota): Promise<void> {
  const hard = quota.spec?.hard ?? {};
  await adminKubeConfig(env)
    .makeApiClient(CoreV1Api)
    .replaceNamespacedResourceQuotaStatus({
      name: quota.metadata!.name!,
      namespace: quota.metadata!.namespace!,
      body: {
        ...quota,
        status: { hard, used: Object.fromEntries(Object.keys(hard).map((key) => [key, "0"])) },
      },
    });
}

/** Creates every object with fieldValidation=Strict, in helm's order; returns what the apiserver stored. */
export async function applyStrict(
  env: TestEnv,
  objects: readonly KubernetesObject[],
): Promise<KubernetesObject[]> {
  const stored: KubernetesObject[] = [];
  for (const object of inInstallOrder(objects)) {
    const created = await createStrict(env, object);
    if (created.kind === "ResourceQuota") await settleQuota(env, created as V1ResourceQuota);
    stored.push(created);
  }
  return stored;
}

export function findObject<T extends KubernetesObject>(
  objects: readonly KubernetesObject[],
  kind: string,
  name?: string,
): T {
  const found = objects.find(
    (object) => object.kind === kind && (name === undefined || object.metadata?.name === name),
  );
  if (!found)
    throw new Error(`no ${kind}${name ? ` ${name}` : ""} among ${objects.map((o) => o.kind).join(", ")}`);
  return found as T;
}

/** The scaler configuration the chart's ConfigMap carries, validated by the scaler's own parser. */
export function chartConfig(objects: readonly KubernetesObject[]): Config {
  const configMap = findObject<V1ConfigMap>(objects, "ConfigMap");
  return parseConfig(configMap.data?.["config.yaml"] ?? "", `ConfigMap ${configMap.metadata?.name}`);
}

export interface InstalledChart {
  releaseNamespace: string;
  runnerNamespace: string;
  objects: KubernetesObject[];
  /** The scaler's ServiceAccount (in the release namespace). */
  serviceAccount: string;
  /** A bound token of that ServiceAccount from the TokenRequest API, as the kubelet would mount it. */
  token: string;
}

/**
 * Renders the chart for a fresh release namespace (runner namespace `<release namespace>-runners`, created by the
 * chart), applies every object strictly, and gets a token for the scaler's ServiceAccount.
 */
export async function installChart(
  env: TestEnv,
  options: { prefix: string; files?: string[]; values?: Record<string, unknown> },
): Promise<InstalledChart> {
  const releaseNamespace = (await createTestNamespace(env, options.prefix)).name;
  const runnerNamespace = `${releaseNamespace}-runners`;
  const objects = await renderChart(env, {
    release: "ci",
    namespace: releaseNamespace,
    files: options.files ?? [join(VALUES_FIXTURES, "minimal.yaml")],
    values: { ...options.values, kubernetes: { namespace: runnerNamespace } },
  });
  await applyStrict(env, objects);
  const serviceAccount = objects.find(
    (object) => object.kind === "ServiceAccount" && object.metadata?.namespace === releaseNamespace,
  )?.metadata?.name;
  if (!serviceAccount) throw new Error("the chart rendered no ServiceAccount for the scaler");
  const core = adminKubeConfig(env).makeApiClient(CoreV1Api);
  const review = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace: releaseNamespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = review.status?.token;
  if (!token) throw new Error(`TokenRequest for ${releaseNamespace}/${serviceAccount} returned no token`);
  return { releaseNamespace, runnerNamespace, objects, serviceAccount, token };
}
