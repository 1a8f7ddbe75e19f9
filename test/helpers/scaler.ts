// Starts the real scaler in-process against the test apiserver, as a ServiceAccount holding only the
// Role the chart ships (SCALER_ROLE_RULES), so tests prove those permissions are enough.
import type { KubeConfig, V1PolicyRule } from "@kubernetes/client-node";
import { type Config, parseConfig } from "../../src/scaler/config.ts";
import { SCALER_ROLE_RULES } from "../../src/scaler/kube/rbac.ts";
import { createLogger, type Logger, silentLogger } from "../../src/scaler/observe/log.ts";
import type { ReconcilerTiming, RunnerRegistry } from "../../src/scaler/reconcile/reconciler.ts";
import type { RecoveryGitHub, RecoveryTiming } from "../../src/scaler/reconcile/recovery.ts";
import { type RunningScaler, type ScalerOptions, startScaler } from "../../src/scaler/service.ts";
import type { TestEnv } from "../env/types.ts";
import { restrictedKubeConfig } from "./kube.ts";

export const WEBHOOK_SECRET = "test-webhook-secret";

export function testConfigYaml(namespace: string, sets: string): string {
  return [
    "github:",
    "  url: https://github.com",
    "  org: octo-org",
    "  auth: { appId: 1, privateKeyFile: /secrets/app.pem }",
    "  webhookSecretFile: /secrets/webhook-secret",
    "kubernetes:",
    `  namespace: ${namespace}`,
    "runnerSets:",
    sets,
  ].join("\n");
}

export interface TestScalerOptions {
  namespace: string;
  /** YAML of the runnerSets list items, indented by two spaces. */
  runnerSets?: string;
  github: RunnerRegistry & RecoveryGitHub & { ping(): Promise<void> };
  /** Instead of the test configuration (`namespace` and `runnerSets` are then ignored): e.g. the chart's ConfigMap. */
  config?: Config;
  /** Instead of a ServiceAccount holding SCALER_ROLE_RULES: e.g. a token of the chart's ServiceAccount. */
  kubeConfig?: KubeConfig;
  reconcile?: ScalerOptions["reconcile"];
  /** Redelivery sweep and audit; off by default in tests of other behaviour. */
  recovery?: Partial<RecoveryTiming> | false;
  timing?: Partial<ReconcilerTiming>;
  secrets?: string[];
  log?: Logger;
}

let serviceAccounts = 0;

export async function startTestScaler(env: TestEnv, options: TestScalerOptions): Promise<RunningScaler> {
  const sets =
    options.runnerSets ??
    ["  - name: dind-k8s", "    labels: [dind-k8s]", "    maxRunners: 3", "    minIdle: 0"].join("\n");
  const config = options.config ?? parseConfig(testConfigYaml(options.namespace, sets), "test-config.yaml");
  const kubeConfig =
    options.kubeConfig ??
    (await restrictedKubeConfig(
      env,
      options.namespace,
      `dind-k8s-scaler-${++serviceAccounts}`,
      SCALER_ROLE_RULES.map((rule) => ({ ...rule }) as V1PolicyRule),
    ));
  return startScaler({
    config,
    kubeConfig,
    github: options.github,
    webhookSecrets: options.secrets ?? [WEBHOOK_SECRET],
    sidecars: "native",
    log: options.log ?? (process.env.DIND_K8S_TEST_LOG ? createLogger({ level: "debug" }) : silentLogger),
    port: 0,
    host: "127.0.0.1",
    reconcile: options.reconcile ?? true,
    recovery: options.recovery ?? false,
    ...(options.timing ? { timing: options.timing } : {}),
  });
}
