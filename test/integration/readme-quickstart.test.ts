// The README's Quickstart, step 2, walked as written against the test apiserver: its shell commands and its
// values.yaml are read from README.md itself, so the test and the page can't drift apart. The chart comes from
// `helm package` at the version the README pins (the OCI address is the one thing swapped: no registry here);
// `kubectl create` commands are carried out with the admin client (no kubectl here either); `kubectl get` lines are
// observations of a running cluster and are only checked to be observations. Any other command fails the test, so
// a new step in the README must be taught here. The namespaces get a unique name (other tests render the defaults). Then the scaler, with the configuration the chart produced and the
// chart's ServiceAccount, records a webhook signed with the secret the README's command generated.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, KubernetesObjectApi, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { createGitHubApi } from "../../src/scaler/github/client.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { CHART_DIR, chartConfig, helm, parseManifests } from "../helpers/chart.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { adminKubeConfig, kubeConfigFor } from "../helpers/kube.ts";
import { startTestScaler } from "../helpers/scaler.ts";
import { deliver, workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");
const root = join(import.meta.dirname, "../..");
const admin = adminKubeConfig(env);
const core = admin.makeApiClient(CoreV1Api);

/** The fenced blocks of one README section (up to the next heading outside a fence), with their language. */
function sectionBlocks(readme: string, heading: string): { lang: string; text: string }[] {
  const lines = readme.split("\n");
  const first = lines.indexOf(heading);
  if (first < 0) throw new Error(`README.md has no "${heading}" section`);
  const blocks: { lang: string; text: string }[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of lines.slice(first + 1)) {
    if (open) {
      if (line === "```") {
        blocks.push({ lang: open.lang, text: `${open.lines.join("\n")}\n` });
        open = undefined;
      } else open.lines.push(line);
    } else if (line.startsWith("```")) open = { lang: line.slice(3).trim(), lines: [] };
    else if (/^#{1,3} /.test(line)) break;
  }
  return blocks;
}

/** Shell words of one command line (no quoting is used in these commands; a comment ends the line). */
function words(line: string): string[] {
  return line
    .replace(/\s+#.*$/, "")
    .trim()
    .split(/\s+/);
}

let dir: string;
let github: GitHubStandIn | undefined;
let scaler: RunningScaler | undefined;
let webhookSecret: string;
let commands: string[][];
let values: Record<string, unknown>;
let install: { code: number; stdout: string; stderr: string };
let releaseNamespace = "";

beforeAll(async () => {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const blocks = sectionBlocks(readme, "### 2. Install the chart");
  commands = blocks
    .filter((block) => block.lang === "sh")
    .flatMap((block) => block.text.split("\n").filter((line) => line.trim() !== ""))
    .map(words);
  const valuesBlock = blocks.find((block) => block.lang === "yaml" && block.text.startsWith("# values.yaml"));
  if (!valuesBlock) throw new Error('README.md step 2 has no ```yaml block starting "# values.yaml"');
  values = parse(valuesBlock.text) as Record<string, unknown>;

  // What step 1 left in the working directory: the webhook secret (`openssl rand -hex 32 > webhook-secret`) and
  // the App's private key.
  dir = join(env.runDir, "readme-quickstart");
  await mkdir(dir, { recursive: true });
  webhookSecret = randomBytes(32).toString("hex");
  await writeFile(join(dir, "webhook-secret"), `${webhookSecret}\n`);
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pemFile = commands
    .flat()
    .find((word) => word.includes(".pem"))
    ?.replace(/^.*=\.\//, "");
  if (!pemFile) throw new Error("README.md step 2 creates no Secret from a .pem file");
  await writeFile(join(dir, pemFile), privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(join(dir, "values.yaml"), valuesBlock.text);

  const chartVersion = /^version: (\S+)$/m.exec(await readFile(join(CHART_DIR, "Chart.yaml"), "utf8"))?.[1];
  const packaged = await helm(env, ["package", CHART_DIR, "--destination", dir]);
  expect(packaged.code, packaged.stderr).toBe(0);

  // The README's namespaces (dind-k8s, and the chart's default runner namespace dind-k8s-runners) made unique, so
  // this file can run beside the chart tests that render the defaults.
  const unique = `readme-${randomBytes(3).toString("hex")}`;
  const renamed = commands.map((command) =>
    command.map((word, i) =>
      word === "dind-k8s" && ["-n", "--namespace", "namespace"].includes(command[i - 1] ?? "")
        ? unique
        : word,
    ),
  );
  for (const command of renamed) {
    const [tool, ...args] = command;
    if (tool === "helm" && args[0] === "install") {
      const oci = args.findIndex((arg) => arg.startsWith("oci://"));
      const version = args[args.indexOf("--version") + 1];
      // The README pins the chart version this checkout packages.
      expect(version).toBe(chartVersion);
      const local = args.map((arg, i) =>
        i === oci ? join(dir, `dind-k8s-${version}.tgz`) : arg === "values.yaml" ? join(dir, arg) : arg,
      );
      const at = local.indexOf("--version");
      local.splice(at, 2, "--set", `kubernetes.namespace=${unique}-runners`);
      releaseNamespace = local[local.indexOf("--namespace") + 1] ?? "";
      install = await helm(env, local);
      continue;
    }
    if (tool !== "kubectl")
      throw new Error(`README step 2 runs ${command.join(" ")}: teach this test that command`);
    const namespaced = args[0] === "-n" ? args.splice(0, 2)[1] : undefined;
    if (args[0] === "get") continue; // an observation of a running cluster (no kubelet here)
    if (args[0] === "create" && args[1] === "namespace" && args[2]) {
      await core.createNamespace({ body: { metadata: { name: args[2] } } });
      continue;
    }
    if (args[0] === "create" && args[1] === "secret" && args[2] === "generic" && args[3] && namespaced) {
      const data: Record<string, string> = {};
      for (const flag of args.slice(4)) {
        const [, key, file] = /^--from-file=([^=]+)=\.\/(.+)$/.exec(flag) ?? [];
        if (!key || !file) throw new Error(`README step 2: ${flag}: teach this test that flag`);
        data[key] = (await readFile(join(dir, file))).toString("base64");
      }
      await core.createNamespacedSecret({
        namespace: namespaced,
        body: { metadata: { name: args[3] }, data },
      });
      continue;
    }
    throw new Error(`README step 2 runs ${command.join(" ")}: teach this test that command`);
  }
}, 120_000);

afterAll(async () => {
  await scaler?.stop();
  await github?.close();
  if (releaseNamespace) await helm(env, ["uninstall", "dind-k8s", "--namespace", releaseNamespace]);
});

describe("the README's Quickstart, step 2", () => {
  it("installs the packaged chart with the README's values and prints the notes", () => {
    expect(commands.some((command) => command[0] === "helm")).toBe(true);
    expect(install.stderr).toBe("");
    expect(install.code).toBe(0);
    const host = (values.ingress as { host: string }).host;
    expect(install.stdout).toContain("STATUS: deployed");
    expect(install.stdout).toContain(`Payload URL:   https://${host}/webhook`);
    expect(install.stdout).toContain("- uses: dind-k8s/dind-k8s@v1");
  });

  it("creates every object it rendered; the Ingress carries the cert-manager annotation and the TLS Secret", async () => {
    const manifest = await helm(env, ["get", "manifest", "dind-k8s", "--namespace", releaseNamespace]);
    const objects = parseManifests(manifest.stdout);
    expect(objects.length).toBeGreaterThan(8);
    const client = KubernetesObjectApi.makeApiClient(admin);
    for (const object of objects) {
      const found = await client.read({
        apiVersion: object.apiVersion ?? "",
        kind: object.kind ?? "",
        metadata: {
          name: object.metadata?.name ?? "",
          namespace: object.metadata?.namespace ?? releaseNamespace,
        },
      });
      expect(found.metadata?.uid, `${object.kind}/${object.metadata?.name}`).toBeTruthy();
    }
    const ingress = objects.find((object) => object.kind === "Ingress") as
      | { metadata: { annotations?: Record<string, string> }; spec: { tls?: { secretName?: string }[] } }
      | undefined;
    expect(ingress?.metadata.annotations).toMatchObject(
      (values.ingress as { annotations: Record<string, string> }).annotations,
    );
    expect(ingress?.spec.tls?.[0]?.secretName).toBe("dind-k8s-tls");
  });

  it("gives a scaler, run with the chart's configuration and ServiceAccount, a webhook it records", async () => {
    const manifest = await helm(env, ["get", "manifest", "dind-k8s", "--namespace", releaseNamespace]);
    const objects = parseManifests(manifest.stdout);
    const config = chartConfig(objects);
    const runnerNamespace = config.kubernetes.namespace;
    const serviceAccount = objects.find(
      (object) => object.kind === "ServiceAccount" && object.metadata?.namespace === releaseNamespace,
    )?.metadata?.name;
    if (!serviceAccount) throw new Error("the chart made no ServiceAccount for the scaler");
    const review = await core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace: releaseNamespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const org = (values.github as { org: string }).org;
    github = await startGitHubStandIn({ target: { kind: "org", org }, token: "ghp_readme" });
    scaler = await startTestScaler(env, {
      namespace: runnerNamespace,
      config,
      kubeConfig: kubeConfigFor(env, {
        name: `system:serviceaccount:${releaseNamespace}:${serviceAccount}`,
        token: review.status?.token ?? "",
      }),
      github: createGitHubApi({
        apiUrl: github.url,
        target: { kind: "org", org },
        auth: { kind: "token", token: "ghp_readme" },
      }),
      // Intake only: recording the job needs no GitHub call.
      reconcile: false,
      secrets: [webhookSecret],
    });
    const payload = workflowJobPayload({ action: "queued", jobId: 4242, repository: `${org}/app` });
    const delivery = await deliver(scaler.url, "workflow_job", payload, { secret: webhookSecret });
    expect(delivery.status).toBe(201);
    const pod: V1Pod = await core.readNamespacedPod({ name: "dind-k8s-4242-1", namespace: runnerNamespace });
    expect(pod.spec?.schedulingGates?.length).toBeGreaterThan(0);
  });
});
