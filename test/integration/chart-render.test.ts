// charts/dind-k8s as users meet it: helm lint, helm template with each values fixture applied to the real apiserver
// with strict field validation (ServiceMonitor against a CRD declaring the upstream fields the chart uses), the
// ConfigMap accepted by the scaler's own parser, runner Pods admitted under the namespace's Pod Security label,
// NOTES with the three next steps, and bad values refused with messages that name the key.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  type KubernetesObject,
  NodeV1Api,
  type V1CustomResourceDefinition,
  type V1Deployment,
  type V1Namespace,
  type V1ResourceQuota,
  type V1Role,
} from "@kubernetes/client-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { maxQueuedOf } from "../../src/scaler/config/schema.ts";
import { SCALER_ROLE_RULES } from "../../src/scaler/kube/rbac.ts";
import { buildRunnerPod } from "../../src/scaler/runner-pod/build-runner-pod.ts";
import {
  applyStrict,
  CHART_DIR,
  chartConfig,
  findObject,
  helm,
  renderChart,
  VALUES_FIXTURES,
  valuesFile,
} from "../helpers/chart.ts";
import { adminKubeConfig, apiStatus, createTestNamespace } from "../helpers/kube.ts";
import { TEMPLATE_EXAMPLES, templateExample } from "../helpers/templates.ts";

const env = inject("testenv");
const fixtures = readdirSync(VALUES_FIXTURES).filter((name) => name.endsWith(".yaml"));

/** A fixture's text; RELEASE_NAMESPACE stands for the namespace the release is installed in. */
function fixtureText(name: string, releaseNamespace: string): string {
  return readFileSync(join(VALUES_FIXTURES, name), "utf8").replaceAll("RELEASE_NAMESPACE", releaseNamespace);
}

async function ignoreConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error: unknown) {
    if (apiStatus(error) !== 409) throw error;
  }
}

// The real CRD is 1,000+ lines of OpenAPI; this one declares, with the upstream names and types
// (prometheus-operator, monitoring.coreos.com_servicemonitors.yaml), the fields the chart renders, and nothing else,
// so strict field validation still refuses a misspelled or misplaced field.
const SERVICE_MONITOR_CRD: V1CustomResourceDefinition = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "servicemonitors.monitoring.coreos.com" },
  spec: {
    group: "monitoring.coreos.com",
    scope: "Namespaced",
    names: {
      kind: "ServiceMonitor",
      listKind: "ServiceMonitorList",
      plural: "servicemonitors",
      singular: "servicemonitor",
    },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: "object",
            required: ["spec"],
            properties: {
              apiVersion: { type: "string" },
              kind: { type: "string" },
              metadata: { type: "object" },
              spec: {
                type: "object",
                required: ["selector"],
                properties: {
                  selector: {
                    type: "object",
                    properties: {
                      matchLabels: { type: "object", additionalProperties: { type: "string" } },
                    },
                  },
                  endpoints: {
                    type: "array",
                    items: {
                      type: "object",
                      properties: {
                        port: { type: "string" },
                        path: { type: "string" },
                        interval: {
                          type: "string",
                          pattern:
                            "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
                        },
                        scrapeTimeout: {
                          type: "string",
                          pattern:
                            "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

beforeAll(async () => {
  const kc = adminKubeConfig(env);
  const extensions = kc.makeApiClient(ApiextensionsV1Api);
  await ignoreConflict(() => extensions.createCustomResourceDefinition({ body: SERVICE_MONITOR_CRD }));
  // The CRD serves once Established (set by the apiserver's own controllers).
  for (let i = 0; ; i++) {
    const crd = await extensions.readCustomResourceDefinition({ name: SERVICE_MONITOR_CRD.metadata!.name! });
    if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
    if (i > 100) throw new Error("the ServiceMonitor CRD never became Established");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const node = kc.makeApiClient(NodeV1Api);
  await ignoreConflict(() =>
    node.createRuntimeClass({ body: { metadata: { name: "sysbox-runc" }, handler: "sysbox-runc" } }),
  );
});

describe("helm lint", () => {
  it.each(fixtures)("is clean with %s", async (name) => {
    const file = await valuesFile(env, fixtureText(name, "dind-k8s"));
    const result = await helm(env, [
      "lint",
      CHART_DIR,
      "--strict",
      "--namespace",
      "dind-k8s",
      "--values",
      file,
    ]);
    expect(result.stderr + result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.code).toBe(0);
  });
});

interface Installed {
  releaseNamespace: string;
  runnerNamespace: string;
  objects: KubernetesObject[];
}

const installs = new Map<string, Promise<Installed>>();

/** Renders and applies a fixture once per file (a second apply would collide on its node port and names). */
function install(name: string): Promise<Installed> {
  let installed = installs.get(name);
  if (installed === undefined) {
    installed = installOnce(name);
    installs.set(name, installed);
  }
  return installed;
}

async function installOnce(name: string): Promise<Installed> {
  const ns = await createTestNamespace(env, `chart-${name.replace(/\.yaml$/, "")}`.slice(0, 24));
  const text = fixtureText(name, ns.name);
  const ownNamespace = text.includes(`namespace: ${ns.name}`);
  const runnerNamespace = ownNamespace ? ns.name : `${ns.name}-runners`;
  const objects = await renderChart(env, {
    release: "ci",
    namespace: ns.name,
    files: [await valuesFile(env, text)],
    values: { kubernetes: { namespace: runnerNamespace } },
  });
  await applyStrict(env, objects);
  return { releaseNamespace: ns.name, runnerNamespace, objects };
}

describe("helm template applied with strict field validation", () => {
  it.each(fixtures)("%s: every object is accepted, and the scaler accepts the ConfigMap", async (name) => {
    const { objects, runnerNamespace, releaseNamespace } = await install(name);
    const config = chartConfig(objects);
    expect(config.kubernetes.namespace).toBe(runnerNamespace);

    // The scaler's least-privilege settings, whatever the values.
    const deployment = findObject<V1Deployment>(objects, "Deployment");
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.containers[0]!.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.containers[0]!.args?.slice(0, 3)).toEqual([
      "serve",
      "--config",
      "/etc/dind-k8s/config/config.yaml",
    ]);

    // The Role is exactly SCALER_ROLE_RULES, in the runner namespace, bound to the scaler's ServiceAccount.
    const role = findObject<V1Role>(objects, "Role");
    expect(role.metadata?.namespace).toBe(runnerNamespace);
    expect(role.rules).toEqual(SCALER_ROLE_RULES);
    expect(objects.filter((o) => o.kind?.startsWith("Cluster"))).toEqual([]);
    const binding = findObject<KubernetesObject & { subjects: { name: string; namespace: string }[] }>(
      objects,
      "RoleBinding",
    );
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: pod.serviceAccountName, namespace: releaseNamespace },
    ]);

    // No hash of a secret on the Pod (anyone who can read Pods could test guesses against it offline).
    expect(Object.keys(deployment.spec!.template.metadata?.annotations ?? {})).not.toContain(
      "checksum/secrets",
    );

    // The apiserver's own ceiling on runner Pods, above what the sets may hold.
    const quota = findObject<V1ResourceQuota>(objects, "ResourceQuota");
    expect(quota.metadata?.namespace).toBe(runnerNamespace);
    expect(Object.keys(quota.spec?.hard ?? {})).toEqual(["count/pods"]);
    const held = config.runnerSets.reduce((sum, set) => sum + maxQueuedOf(set) + set.maxRunners, 0);
    expect(Number(quota.spec?.hard?.["count/pods"])).toBeGreaterThanOrEqual(held);
  });

  it("profiles.yaml: the runner namespace enforces privileged, the ServiceMonitor-free defaults hold", async () => {
    const { objects } = await install("profiles.yaml");
    const namespace = findObject<V1Namespace>(objects, "Namespace");
    expect(namespace.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    const config = chartConfig(objects);
    expect(config.runnerSets.map((set) => [set.name, set.serviceAccountName])).toEqual([
      ["default", "ci-dind-k8s-runner"],
      ["everything", "ci-runner"],
      ["memory", "ci-dind-k8s-runner"],
      ["ephemeral", "ci-dind-k8s-runner"],
      ["loop", "ci-dind-k8s-runner"],
      ["kata", "ci-dind-k8s-runner"],
      ["sysbox", "ci-dind-k8s-runner"],
      ["rootless", "ci-dind-k8s-runner"],
    ]);
    expect(objects.map((o) => o.kind)).not.toContain("ServiceMonitor");
  });

  it("private-cluster.yaml: intake poll, and no webhook Service or Ingress — only the in-cluster ops Service", async () => {
    const { objects } = await install("private-cluster.yaml");
    expect(chartConfig(objects).github).toMatchObject({ intake: "poll", pollInterval: 5 });
    expect(objects.filter((o) => o.kind === "Ingress")).toEqual([]);
    const services = objects.filter((o) => o.kind === "Service");
    expect(services.map((service) => service.metadata?.name)).toEqual([expect.stringMatching(/-ops$/)]);
    // No webhook secret given, none needed: nothing mounts one, and the configuration names none.
    expect(chartConfig(objects).github.webhookSecretFile).toBeUndefined();
    const deployment = findObject<V1Deployment>(objects, "Deployment");
    expect(deployment.spec?.template.spec?.volumes?.map((volume) => volume.name)).not.toContain(
      "webhook-secret",
    );
    expect(objects.filter((o) => o.kind === "Secret")).toEqual([]);
  });

  it("sysbox-baseline.yaml: a baseline runner namespace admits the sysbox runner Pod the scaler would create", async () => {
    const { objects, runnerNamespace } = await install("sysbox-baseline.yaml");
    const namespace = findObject<V1Namespace>(objects, "Namespace");
    expect(namespace.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("baseline");
    const set = chartConfig(objects).runnerSets[0]!;
    const { pod } = buildRunnerPod(
      set,
      { kind: "job", jobId: 1, runAttempt: 1 },
      {
        namespace: runnerNamespace,
        sidecars: "native",
      },
    );
    const core = adminKubeConfig(env).makeApiClient(CoreV1Api);
    // Admitted: Pod Security baseline, the chart's runner ServiceAccount exists, strict fields.
    const created = await core.createNamespacedPod({
      namespace: runnerNamespace,
      body: pod,
      fieldValidation: "Strict",
    });
    expect(created.spec?.serviceAccountName).toBe("ci-dind-k8s-runner");
    expect(created.spec?.automountServiceAccountToken).toBe(false);
    // And a privileged dind is refused there, which is why "auto" picks privileged for the other profiles.
    const privileged = buildRunnerPod(
      { ...set, name: "priv", runtime: { profile: "privileged" } },
      { kind: "job", jobId: 2, runAttempt: 1 },
      {
        namespace: runnerNamespace,
        sidecars: "native",
      },
    ).pod;
    await expect(core.createNamespacedPod({ namespace: runnerNamespace, body: privileged })).rejects.toThrow(
      /baseline/,
    );
  });

  it("exposed.yaml: Ingress routes only /webhook, with TLS; the ServiceMonitor scrapes /metrics", async () => {
    const { objects } = await install("exposed.yaml");
    const ingress = findObject<KubernetesObject & { spec: Record<string, unknown> }>(objects, "Ingress");
    expect(ingress.spec).toEqual({
      ingressClassName: "nginx",
      tls: [{ hosts: ["dind-k8s.example.com"], secretName: "dind-k8s-tls" }],
      rules: [
        {
          host: "dind-k8s.example.com",
          http: {
            paths: [
              {
                path: "/webhook",
                pathType: "Exact",
                backend: { service: { name: "ci-scaler", port: { name: "http" } } },
              },
            ],
          },
        },
      ],
    });
    const monitor = findObject<KubernetesObject & { spec: { endpoints: unknown[] } }>(
      objects,
      "ServiceMonitor",
    );
    expect(monitor.spec.endpoints).toEqual([
      { port: "ops", path: "/metrics", interval: "15s", scrapeTimeout: "5s" },
    ]);
    // Probes and metrics on the ops port, behind a ClusterIP Service only; the exposed Service has the webhook port.
    const services = objects
      .filter((object) => object.kind === "Service")
      .sort((a, b) =>
        String(a.metadata?.name).localeCompare(String(b.metadata?.name)),
      ) as (KubernetesObject & {
      spec: { type?: string; ports: { name: string }[] };
    })[];
    expect(
      services.map((service) => [
        service.metadata?.name,
        service.spec.type,
        service.spec.ports.map((p) => p.name),
      ]),
    ).toEqual([
      ["ci-scaler", "LoadBalancer", ["http"]],
      ["ci-scaler-ops", "ClusterIP", ["ops"]],
    ]);
    const probes = findObject<V1Deployment>(objects, "Deployment").spec?.template.spec?.containers[0];
    expect(
      [probes?.livenessProbe, probes?.readinessProbe, probes?.startupProbe].map(
        (probe) => probe?.httpGet?.port,
      ),
    ).toEqual(["ops", "ops", "ops"]);
    const deployment = findObject<V1Deployment>(objects, "Deployment");
    expect(deployment.spec?.template.spec?.containers[0]?.image).toBe(
      "registry.example.com/platform/dind-k8s@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
  });

  it("github-app.yaml: quick-start Secrets hold the values under the configured keys, mounted where the config says", async () => {
    const { objects } = await install("github-app.yaml");
    const config = chartConfig(objects);
    expect(config.github.auth).toEqual({
      appId: 123456,
      installationId: 7654321,
      privateKeyFile: "/etc/dind-k8s/secrets/github/app.pem",
    });
    expect(config.github.webhookSecretFile).toBe("/etc/dind-k8s/secrets/webhook/webhook-secret");
    const webhook = findObject<KubernetesObject & { data: Record<string, string> }>(
      objects,
      "Secret",
      "ci-dind-k8s-webhook",
    );
    // Both lines survive: the scaler accepts the current and the previous secret during a rotation.
    expect(Buffer.from(webhook.data["webhook-secret"]!, "base64").toString()).toBe(
      "new-webhook-secret\nold-webhook-secret\n",
    );
    const deployment = findObject<V1Deployment>(objects, "Deployment");
    const mounts = deployment.spec!.template.spec!.containers[0]!.volumeMounts!;
    const volumes = deployment.spec!.template.spec!.volumes!;
    expect(mounts.find((m) => m.name === "github-credentials")?.mountPath).toBe(
      "/etc/dind-k8s/secrets/github",
    );
    expect(volumes.find((v) => v.name === "github-credentials")?.secret).toMatchObject({
      secretName: "ci-dind-k8s-github",
      items: [{ key: "app.pem", path: "app.pem" }],
    });
  });

  it("pat-ghes.yaml: the token file, the GHES URL, runners in the release namespace", async () => {
    const { objects, releaseNamespace } = await install("pat-ghes.yaml");
    const config = chartConfig(objects);
    expect(config.github).toMatchObject({
      url: "https://ghes.example.com",
      repo: "my-org/my-repo",
      auth: { tokenFile: "/etc/dind-k8s/secrets/github/pat" },
      webhookSecretFile: "/etc/dind-k8s/secrets/webhook/hook",
    });
    expect(config.runnerSets[0]?.serviceAccountName).toBeUndefined();
    expect(objects.map((o) => o.kind).sort()).toEqual(
      // The quota counts the scaler's own Pods too here: its default leaves room for them.
      [
        "ConfigMap",
        "Deployment",
        "ResourceQuota",
        "Role",
        "RoleBinding",
        "Service",
        "Service",
        "ServiceAccount",
        // The admission policy bounding the scaler's Pods and Secrets, and their bindings (cluster-scoped).
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingAdmissionPolicyBinding",
      ].sort(),
    );
    expect(findObject(objects, "Role").metadata?.namespace).toBe(releaseNamespace);
  });
});

describe("runner Pod templates", () => {
  it("the README's examples pass the values schema and reach the scaler's configuration whole", async () => {
    const sets = parse(TEMPLATE_EXAMPLES.map(templateExample).join("")) as Record<string, unknown>[];
    const objects = await renderChart(env, {
      release: "ci",
      namespace: "dind-k8s",
      files: [join(VALUES_FIXTURES, "minimal.yaml")],
      values: { runnerSets: sets },
    });
    const config = chartConfig(objects);
    expect(config.runnerSets.map((set) => set.template)).toEqual(sets.map((set) => set.template));
    // The Pod the scaler builds from the ConfigMap is the merged one (the CA bundle example's volume and mounts).
    const { pod } = buildRunnerPod(
      config.runnerSets[0]!,
      { kind: "job", jobId: 1, runAttempt: 1 },
      { namespace: config.kubernetes.namespace, sidecars: "native" },
    );
    expect(pod.spec?.volumes?.map((volume) => volume.name)).toContain("corp-ca");
    expect(pod.spec?.initContainers?.find((c) => c.name === "dind")?.volumeMounts?.[0]?.name).toBe("corp-ca");
  });
});

describe("helm itself", () => {
  it("installs, upgrades and uninstalls the release on the apiserver", async () => {
    const ns = await createTestNamespace(env, "chart-helm");
    const common = [CHART_DIR, "--namespace", ns.name, "--values", join(VALUES_FIXTURES, "minimal.yaml")];
    const runners = ["--set", `kubernetes.namespace=${ns.name}-runners`];
    const installed = await helm(env, ["install", "ci", ...common, ...runners]);
    expect(installed.stderr).toBe("");
    expect(installed.stdout).toContain("STATUS: deployed");
    const upgraded = await helm(env, ["upgrade", "ci", ...common, ...runners, "--set", "replicaCount=3"]);
    expect(upgraded.stderr).toBe("");
    expect(upgraded.stdout).toContain("REVISION: 2");
    const deployment = await adminKubeConfig(env)
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: "ci-dind-k8s", namespace: ns.name });
    expect(deployment.spec?.replicas).toBe(3);
    // A second release may not share the runner namespace: its scaler would share the Lease and the Pod names.
    const other = await createTestNamespace(env, "chart-helm2");
    const second = await helm(env, [
      "install",
      "ci2",
      CHART_DIR,
      "--namespace",
      other.name,
      "--values",
      join(VALUES_FIXTURES, "minimal.yaml"),
      ...runners,
      "--set",
      "runnerNamespace.create=false",
    ]);
    expect(second.stderr).toContain(
      `kubernetes.namespace: ${ns.name}-runners already has the runners of release ci (namespace ${ns.name}); each release needs its own runner namespace`,
    );
    const uninstalled = await helm(env, ["uninstall", "ci", "--namespace", ns.name]);
    expect(uninstalled.stderr).toBe("");
    expect(uninstalled.code).toBe(0);
  });
});

describe("NOTES.txt", () => {
  /** What `helm install` prints after the objects for these values (its NOTES), in a namespace of its own. */
  async function notesFor(name: string, values: (namespace: string) => string) {
    const ns = await createTestNamespace(env, name);
    const file = await valuesFile(env, values(ns.name));
    const result = await helm(env, [
      "install",
      "ci",
      CHART_DIR,
      "--namespace",
      ns.name,
      "--values",
      file,
      "--dry-run=client",
    ]);
    expect(result.stderr).toBe("");
    return { ns, notes: result.stdout.slice(result.stdout.indexOf("NOTES:")) };
  }

  it("gives the webhook URL, the Secrets to create and a workflow snippet", async () => {
    const { ns, notes } = await notesFor(
      "chart-notes",
      (namespace) =>
        `${fixtureText("minimal.yaml", namespace)}\ningress: { enabled: true, host: ci.example.com, tlsSecretName: ci-tls }\n`,
    );
    expect(notes).toContain("Payload URL:   https://ci.example.com/webhook");
    expect(notes).toContain('Events:        "Workflow jobs" only');
    expect(notes).toContain(
      `kubectl -n ${ns.name} create secret generic dind-k8s-webhook --from-literal=webhook-secret="$(openssl rand -hex 32)"`,
    );
    expect(notes).toContain(
      `kubectl -n ${ns.name} create secret generic dind-k8s-github --from-file=private-key=./my-app.private-key.pem`,
    );
    expect(notes).toContain("press Redeliver on the ping, and expect 200");
    expect(notes).toContain("runs-on: dind-k8s");
    expect(notes).toContain("- uses: dind-k8s/dind-k8s@v1");
  });

  it("with intake poll: no host name, a webhook that may fail, no ping to redeliver", async () => {
    const { notes } = await notesFor("chart-notes-poll", (namespace) =>
      fixtureText("private-cluster.yaml", namespace),
    );
    expect(notes).toContain("1. No inbound traffic: the scaler takes jobs from GitHub's delivery log");
    expect(notes).toContain("Webhook secret: none (github.intake poll takes no webhooks");
    expect(notes).toContain("Payload URL:   any https URL, e.g. https://dind-k8s.invalid/webhook");
    expect(notes).toContain('Events:        "Workflow jobs" only');
    expect(notes).not.toContain("ingress");
    expect(notes).not.toContain("Redeliver");
    expect(notes).toContain("runs-on: dind-k8s");
  });
});

describe("bad values", () => {
  const minimal = readFileSync(join(VALUES_FIXTURES, "minimal.yaml"), "utf8");
  const oneSet = (extra: Record<string, unknown>) => ({
    runnerSets: [{ name: "a", labels: ["a"], maxRunners: 2, minIdle: 0, ...extra }],
  });
  it.each<[string, Record<string, unknown>, string]>([
    ["a misspelled key", { replicaCont: 2 }, "at '': additional properties 'replicaCont' not allowed"],
    [
      "a misspelled nested key",
      { ingress: { enable: true } },
      "at '/ingress': additional properties 'enable' not allowed",
    ],
    [
      "a negative maxRunners",
      oneSet({ maxRunners: -1 }),
      "at '/runnerSets/0/maxRunners': minimum: got -1, want 0",
    ],
    [
      "an unknown storage type",
      oneSet({ storage: { type: "disk" } }),
      "at '/runnerSets/0/storage/type': value must be 'emptyDir'",
    ],
    // Rules between keys fail in the chart's own words, not JSON Schema's ("'oneOf' failed, subschemas 0, 1").
    [
      "org and repo",
      { github: { repo: "a/b" } },
      "github.org (my-org) and github.repo (a/b) are both set: runners register with one of them. Keep github.org for the organization's runners, or github.repo for one repository's, and remove the other",
    ],
    [
      "a Pod template that names its Pods",
      oneSet({ template: { metadata: { name: "mine" } } }),
      "at '/runnerSets/0/template/metadata': additional properties 'name' not allowed",
    ],
    [
      "a secret path in values",
      { github: { webhookSecretFile: "/x" } },
      "additional properties 'webhookSecretFile' not allowed",
    ],
    [
      "minIdle above maxRunners",
      oneSet({ minIdle: 3 }),
      "runnerSets[0].minIdle: 3 warm runners can't fit in maxRunners 2",
    ],
    [
      "two sets with one name",
      { runnerSets: [...oneSet({}).runnerSets, ...oneSet({ labels: ["b"] }).runnerSets] },
      'runnerSets[1].name: "a" again (runnerSets[0] has it)',
    ],
    [
      "no webhook secret",
      { webhookSecret: { existingSecret: "" } },
      "webhookSecret: the scaler refuses unsigned webhooks (only github.intake poll needs none). Create a Secret (kubectl -n dind-k8s create secret generic dind-k8s-webhook",
    ],
    [
      "both webhook secrets",
      { webhookSecret: { value: "s" } },
      "webhookSecret: set existingSecret (a Secret you created) or value",
    ],
    [
      "an App without its key",
      { githubCredentials: { existingSecret: "" } },
      "github.auth.appId is set: the App's private key is missing. Create a Secret with key private-key (kubectl -n dind-k8s create secret generic dind-k8s-github",
    ],
    [
      "a token while appId says App",
      { githubCredentials: { existingSecret: "", token: "ghp_x" } },
      "githubCredentials.token is set but github.auth.appId says GitHub App",
    ],
    [
      "baseline under privileged dind",
      { runnerNamespace: { podSecurity: "baseline" } },
      "runnerNamespace.podSecurity: baseline rejects the privileged dind",
    ],
    [
      "an Ingress with intake poll",
      { github: { intake: "poll" }, ingress: { enabled: true, host: "ci.example.com" } },
      "ingress.enabled is true but github.intake is poll: with poll nothing reaches the scaler from outside",
    ],
    [
      "TLS without a host",
      { ingress: { enabled: true, tlsSecretName: "tls" } },
      "ingress.tlsSecretName needs ingress.host",
    ],
    [
      "a Pod quota below what the runner sets may hold",
      { runnerQuota: { pods: 100 } },
      "runnerQuota.pods: 100 is fewer than the runner sets may hold (210: each set's maxQueued",
    ],
    [
      "a Pod quota that fits maxRunners but not a schedule window's higher one",
      {
        runnerQuota: { pods: 300 },
        runnerSets: [
          {
            name: "dind-k8s",
            labels: ["dind-k8s"],
            maxRunners: 10,
            minIdle: 0,
            schedules: [
              { cron: "0 8 * * 1-5", duration: "10h", timeZone: "UTC", minIdle: 2, maxRunners: 50 },
            ],
          },
        ],
      },
      "runnerQuota.pods: 300 is fewer than the runner sets may hold (1050: each set's maxQueued",
    ],
    [
      "egress rules that would be ignored",
      { networkPolicy: { egress: [{ ports: [{ port: 443 }] }] } },
      "networkPolicy.egress is set but networkPolicy.restrictEgress is false",
    ],
  ])("%s: refused, naming the key", async (_name, values, message) => {
    const result = await helm(env, [
      "template",
      "ci",
      CHART_DIR,
      "--namespace",
      "dind-k8s",
      "--values",
      await valuesFile(env, minimal),
      "--values",
      await valuesFile(env, values),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  // Whole values, not layered on minimal.yaml: a layered `null` would reach the schema as a null, not as unset.
  const tokenValues = {
    github: { org: "my-org" },
    webhookSecret: { existingSecret: "dind-k8s-webhook" },
    githubCredentials: { existingSecret: "dind-k8s-github" },
  };
  it.each<[string, Record<string, unknown>, string]>([
    [
      "neither org nor repo",
      { ...tokenValues, github: { hookId: 7 } },
      "github.org or github.repo is required: where the runners register. Set github.org=<organization>, or github.repo=<owner>/<name>",
    ],
    [
      "a token without hookId",
      { ...tokenValues, githubCredentials: { token: "ghp_x" } },
      "github.hookId is required with a personal access token (no github.auth.appId): the redelivery sweep lists the failed deliveries of that webhook. Set github.hookId to the number at the end of the webhook's settings URL",
    ],
    ["a token from an existing Secret without hookId", tokenValues, "github.hookId is required"],
    [
      "an installation without an App",
      { ...tokenValues, github: { org: "my-org", hookId: 7, auth: { installationId: 5 } } },
      "github.auth.installationId is set without github.auth.appId",
    ],
  ])("%s: refused, naming the keys and the fix", async (_name, values, message) => {
    const result = await helm(env, [
      "template",
      "ci",
      CHART_DIR,
      "--namespace",
      "dind-k8s",
      "--values",
      await valuesFile(env, values),
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it("a token with hookId renders", async () => {
    const values = { ...tokenValues, github: { org: "my-org", hookId: 7 } };
    const result = await helm(env, [
      "template",
      "ci",
      CHART_DIR,
      "--namespace",
      "dind-k8s",
      "--values",
      await valuesFile(env, values),
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("the runner namespace can't be created when it is the release namespace", async () => {
    const result = await helm(env, [
      "template",
      "ci",
      CHART_DIR,
      "--namespace",
      "dind-k8s-runners",
      "--values",
      await valuesFile(env, minimal),
    ]);
    expect(result.stderr).toContain(
      "runnerNamespace.create: the runner namespace dind-k8s-runners is the release namespace, which exists already; set runnerNamespace.create=false",
    );
  });
});
