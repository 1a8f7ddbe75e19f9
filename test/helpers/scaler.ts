// Starts the real scaler in-process against the test apiserver, as a ServiceAccount holding only the
// Role the chart ships (SCALER_ROLE_RULES), so tests prove those permissions are enough.
import type { ChildProcess } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KubeConfig, V1PolicyRule } from "@kubernetes/client-node";
import { type Config, parseConfig } from "../../src/scaler/config/load.ts";
import { createGitHubApi, type GitHubApi } from "../../src/scaler/github/client.ts";
import { SCALER_ROLE_RULES } from "../../src/scaler/kube/rbac.ts";
import { createLogger, type Logger, silentLogger } from "../../src/scaler/observe/log.ts";
import type { PollGitHub } from "../../src/scaler/reconcile/poll.ts";
import type { ReconcilerTiming } from "../../src/scaler/reconcile/reconciler.ts";
import type { RecoveryGitHub, RecoveryTiming } from "../../src/scaler/reconcile/recovery.ts";
import type { RunnerRegistry } from "../../src/scaler/reconcile/runner-registry.ts";
import { type RunningScaler, type ScalerOptions, startScaler } from "../../src/scaler/service.ts";
import { KWOK_TAINT } from "../env/kwok.ts";
import type { TestEnv } from "../env/types.ts";
import { kubeClientOf, restrictedKubeConfig } from "./kube.ts";

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

/**
 * A runner set's YAML list item (indented for testConfigYaml): labels [dind-k8s], minIdle 0 unless given, and
 * maxQueued when given (the default is 20 × maxRunners: none at all for maxRunners 0).
 */
export function runnerSetYaml(name: string, maxRunners: number, maxQueued?: number, minIdle = 0): string {
  return [
    `  - name: ${name}`,
    "    labels: [dind-k8s]",
    `    maxRunners: ${maxRunners}`,
    ...(maxQueued === undefined ? [] : [`    maxQueued: ${maxQueued}`]),
    `    minIdle: ${minIdle}`,
  ].join("\n");
}

/**
 * A runner set whose Pods go to kwok's Nodes: the real scheduler binds them and kwok runs them (its Nodes take only
 * Pods that tolerate KWOK_TAINT, see test/env/kwok.ts).
 */
export function realNodesRunnerSetYaml(name: string, maxRunners: number, minIdle = 0): string {
  const { key, value, effect } = KWOK_TAINT;
  return [
    runnerSetYaml(name, maxRunners, undefined, minIdle),
    `    tolerations: [{ key: ${key}, operator: Equal, value: ${value}, effect: ${effect} }]`,
  ].join("\n");
}

/**
 * The configuration of a `dind-k8s serve` process that reads its secrets from `dir` (as the chart mounts them):
 * a PAT in `dir/token`, the webhook secret(s) in `dir/webhook-secret`, and hook 1 for the redelivery sweep.
 */
export function serveConfigYaml(
  namespace: string,
  dir: string,
  sets: string,
  {
    githubApiUrl,
    tuning,
    github,
  }: {
    githubApiUrl?: string | undefined;
    tuning?: object | undefined;
    /** More keys of `github:` (e.g. { intake: "poll" }). */
    github?: Record<string, string | number> | undefined;
  } = {},
): string {
  const text = testConfigYaml(namespace, sets)
    .replace(
      "auth: { appId: 1, privateKeyFile: /secrets/app.pem }",
      `auth: { tokenFile: ${join(dir, "token")} }`,
    )
    .replace(
      "webhookSecretFile: /secrets/webhook-secret",
      `webhookSecretFile: ${join(dir, "webhook-secret")}\n  hookId: 1`,
    )
    // The GitHub stand-in, through the configuration as any API URL (plain http: it is on the loopback).
    .replace(
      "url: https://github.com",
      `url: https://github.com${githubApiUrl ? `\n  apiUrl: ${githubApiUrl}` : ""}`,
    );
  const withGithub = github
    ? text.replace(
        "  org: octo-org",
        ["  org: octo-org", ...Object.entries(github).map(([key, value]) => `  ${key}: ${value}`)].join("\n"),
      )
    : text;
  // JSON is YAML: the faster timings of a test or benchmark, validated like the rest of the file.
  return tuning ? `${withGithub}\ntuning: ${JSON.stringify(tuning)}\n` : withGithub;
}

export interface ServeFiles {
  configPath: string;
  kubeconfigPath: string;
  configText: string;
}

/** The arguments of `dind-k8s serve` on the files writeServeFiles wrote (after the CLI's path). */
export function serveArgs(
  files: ServeFiles,
  { port = 0, logLevel }: { port?: number; logLevel?: string } = {},
): string[] {
  return [
    "serve",
    "--config",
    files.configPath,
    "--kubeconfig",
    files.kubeconfigPath,
    "--port",
    String(port),
    ...(logLevel ? ["--log-level", logLevel] : []),
  ];
}

/**
 * Writes what a `dind-k8s serve` process needs into `dir`: the configuration (serveConfigYaml), the PAT, the
 * webhook secrets (one per line: current first), and a kubeconfig of a ServiceAccount holding exactly the
 * shipped Role.
 */
export async function writeServeFiles(
  env: TestEnv,
  {
    namespace,
    dir,
    sets,
    token,
    secrets,
    githubApiUrl,
    tuning,
    github,
  }: {
    namespace: string;
    dir: string;
    sets: string;
    token: string;
    secrets: string[];
    /** The GitHub stand-in's URL, as github.apiUrl. */
    githubApiUrl?: string;
    /** The configuration's `tuning:`. */
    tuning?: object;
    /** More keys of `github:`. */
    github?: Record<string, string | number>;
  },
): Promise<ServeFiles> {
  const kubeConfig = await restrictedKubeConfig(
    env,
    namespace,
    "dind-k8s-scaler",
    SCALER_ROLE_RULES.map((rule) => ({ ...rule }) as V1PolicyRule),
  );
  const files: ServeFiles = {
    configPath: join(dir, "config.yaml"),
    kubeconfigPath: join(dir, "kubeconfig"),
    configText: serveConfigYaml(namespace, dir, sets, { githubApiUrl, tuning, github }),
  };
  await writeFile(files.kubeconfigPath, kubeConfig.exportConfig());
  await writeFile(join(dir, "token"), `${token}\n`);
  await writeFile(join(dir, "webhook-secret"), `${secrets.join("\n")}\n`);
  await writeFile(files.configPath, files.configText);
  return files;
}

/**
 * Resolves with the URL a `dind-k8s serve` child logs once it listens (it runs with --port 0); `onLine` sees
 * every log line before and after. Rejects if the process exits first.
 */
export function listeningUrl(
  child: ChildProcess,
  onLine: (line: string) => void = () => {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        onLine(line);
        const url = /"message":"scaler listening","url":"([^"]+)"/.exec(line)?.[1];
        if (url) resolve(url);
      }
    });
    child.once("exit", (code) => reject(new Error(`dind-k8s serve exited with ${code} before it listened`)));
  });
}

export interface TestScalerOptions {
  namespace: string;
  /** YAML of the runnerSets list items, indented by two spaces. */
  runnerSets?: string;
  github: RunnerRegistry & RecoveryGitHub & PollGitHub & { ping(): Promise<void> };
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
  http?: ScalerOptions["http"];
  githubProbeMs?: number;
  /** Health and metrics on a port of their own (0: any free one); the webhook port then takes only webhooks. */
  opsPort?: number;
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
    kube: await kubeClientOf(kubeConfig),
    github: options.github,
    webhookSecrets: options.secrets ?? [WEBHOOK_SECRET],
    sidecars: "native",
    log: options.log ?? (process.env.DIND_K8S_TEST_LOG ? createLogger({ level: "debug" }) : silentLogger),
    port: 0,
    host: "127.0.0.1",
    reconcile: options.reconcile ?? true,
    recovery: options.recovery ?? false,
    ...(options.timing ? { timing: options.timing } : {}),
    ...(options.http ? { http: options.http } : {}),
    ...(options.githubProbeMs ? { githubProbeMs: options.githubProbeMs } : {}),
    ...(options.opsPort === undefined ? {} : { opsPort: options.opsPort }),
  });
}

/**
 * The Node flags the scaler image runs with, read from the Dockerfile's ENTRYPOINT: the benchmarks measure the
 * scaler as it is shipped, memory-saving flags included, not a variant of it.
 */
export async function imageNodeFlags(): Promise<string[]> {
  const dockerfile = await readFile(join(import.meta.dirname, "../../Dockerfile"), "utf8");
  const line = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
  const entrypoint = line ? (JSON.parse(line) as string[]) : [];
  const script = entrypoint.findIndex((arg) => arg.endsWith("/cli.js"));
  if (entrypoint[0] !== "node" || script < 1) {
    throw new Error(
      `Dockerfile: expected ENTRYPOINT ["node", <flags>…, "…/cli.js"], found ${line ?? "none"}`,
    );
  }
  return entrypoint.slice(1, script);
}

/**
 * The scaler's GitHub client for an organization's token, against a stand-in: retry and rate-limit waits of 10 ms,
 * so those paths run in milliseconds. `hookId` for the redelivery sweep and the poll.
 */
export function standInTokenClient(
  github: { url: string },
  { org, token, hookId }: { org: string; token: string; hookId?: number },
): GitHubApi {
  return createGitHubApi({
    apiUrl: github.url,
    target: { kind: "org", org },
    auth: { kind: "token", token },
    retryBaseMs: 10,
    rateLimitBaseMs: 10,
    ...(hookId === undefined ? {} : { hookId }),
  });
}
