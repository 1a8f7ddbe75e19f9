// The chart's ValidatingAdmissionPolicy on the real apiserver: the chart (profiles values: every runtime profile and
// option) is installed as helm would, and requests are made with a token of the scaler's ServiceAccount under its
// Role. Every Pod and Secret `dind-k8s render` prints for the chart's configuration is admitted (dry run: admission
// runs in full, nothing is stored); Pods the Role alone would allow but the builder never makes are each denied with
// the policy's message.
import { join } from "node:path";
import {
  CoreV1Api,
  loadAllYaml,
  NodeV1Api,
  SchedulingV1Api,
  type V1Container,
  type V1Pod,
  type V1Secret,
} from "@kubernetes/client-node";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { main } from "../../src/cli.ts";
import { type Config, parseConfig } from "../../src/scaler/config/load.ts";
import { buildRunnerPod } from "../../src/scaler/runner-pod/build-runner-pod.ts";
import { withCacheClaim } from "../../src/scaler/runner-pod/cache-claim.ts";
import { chartConfig, installChart, VALUES_FIXTURES, valuesFile } from "../helpers/chart.ts";
import { eventually } from "../helpers/eventually.ts";
import { adminKubeConfig, apiStatus, postAs } from "../helpers/kube.ts";
import { configWithSets, TEMPLATE_EXAMPLES, templateExample } from "../helpers/templates.ts";

const env = inject("testenv");
const admin = adminKubeConfig(env);

let runnerNamespace: string;
let token: string;
let config: Config;
let configFile: string;

async function ignoreConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error: unknown) {
    if (apiStatus(error) !== 409) throw error;
  }
}

/** POST as the scaler's ServiceAccount, dry run (admission runs, nothing is stored): status and message. */
async function createAs(
  resource: "pods" | "secrets",
  body: unknown,
): Promise<{ status: number; message: string }> {
  const { status, message } = await postAs(
    env,
    `/api/v1/namespaces/${runnerNamespace}/${resource}?dryRun=All&fieldValidation=Strict`,
    body,
    token,
  );
  return { status, message };
}

/** What `dind-k8s render` prints for a set of the chart's configuration: the Pod and the Secret. */
async function render(set: string, sidecars: "native" | "legacy"): Promise<{ pod: V1Pod; secret: V1Secret }> {
  let stdout = "";
  let stderr = "";
  const code = await main(["render", "--config", configFile, "--set", set, "--sidecars", sidecars], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    readFile: (path) => import("node:fs/promises").then((fs) => fs.readFile(path, "utf8")),
  });
  expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  const [pod, secret] = loadAllYaml(stdout) as [V1Pod, V1Secret];
  return { pod, secret };
}

const containerOf = (pod: V1Pod, name: string): V1Container => {
  const found = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
    (c) => c.name === name,
  );
  if (!found) throw new Error(`no container ${name}`);
  return found;
};

/** The Pod placed by hand: nodeName, and no scheduling gate (the apiserver refuses nodeName on a gated Pod). */
function bindTo(pod: V1Pod, node: string): void {
  pod.spec!.nodeName = node;
  delete pod.spec!.schedulingGates;
}

beforeAll(async () => {
  // What the profiles' Pods refer to and the cluster must have for admission to get as far as the policy.
  const node = admin.makeApiClient(NodeV1Api);
  for (const name of ["kata", "kata-qemu", "sysbox-runc"]) {
    await ignoreConflict(() => node.createRuntimeClass({ body: { metadata: { name }, handler: name } }));
  }
  await ignoreConflict(() =>
    admin
      .makeApiClient(SchedulingV1Api)
      .createPriorityClass({ body: { metadata: { name: "ci-runners" }, value: 1000 } }),
  );
  const installed = await installChart(env, {
    prefix: "chart-vap",
    files: [join(VALUES_FIXTURES, "profiles.yaml")],
  });
  ({ runnerNamespace, token } = installed);
  config = chartConfig(installed.objects);
  configFile = await valuesFile(env, stringify(config));
  const core = admin.makeApiClient(CoreV1Api);
  // The "everything" set's own runner ServiceAccount, and one no set names.
  for (const name of ["ci-runner", "someone-else"]) {
    await core.createNamespacedServiceAccount({
      namespace: runnerNamespace,
      body: { metadata: { name }, automountServiceAccountToken: false },
    });
  }
  // The policy takes effect once the apiserver has loaded and type-checked it.
  const { pod } = await render("default", "native");
  bindTo(pod, "kwok-node-1");
  await eventually(
    "the admission policy to deny a Pod with nodeName",
    async () => (await createAs("pods", pod)).message.includes("nodeName is refused"),
    { timeoutMs: 30_000 },
  );
});

describe("admitted: what the scaler's builder makes", () => {
  it("every Pod and Secret `dind-k8s render` prints, for every runner set and sidecar mode", async () => {
    expect(config.runnerSets.map((set) => set.runtime.profile)).toEqual(
      expect.arrayContaining(["privileged", "kata", "sysbox", "rootless"]),
    );
    for (const set of config.runnerSets) {
      for (const sidecars of ["native", "legacy"] as const) {
        const { pod, secret } = await render(set.name, sidecars);
        expect(await createAs("pods", pod), `${set.name} ${sidecars} Pod`).toMatchObject({ status: 201 });
        expect(await createAs("secrets", secret), `${set.name} ${sidecars} Secret`).toMatchObject({
          status: 201,
        });
      }
    }
  });

  it("the README's Pod template examples, merged into a set of the chart", async () => {
    const base = config.runnerSets.find((s) => s.name === "default")!;
    for (const example of TEMPLATE_EXAMPLES) {
      const [own] = parseConfig(configWithSets(templateExample(example)), `${example}.yaml`).runnerSets;
      const set = { ...base, template: own!.template };
      const target = { kind: "job", jobId: 7, runAttempt: 1, repository: "octo-org/app" } as const;
      const { pod } = buildRunnerPod(set, target, { namespace: runnerNamespace, sidecars: "native" });
      expect(await createAs("pods", pod), `${example} Pod`).toMatchObject({ status: 201 });
    }
  });

  it("a Pod whose daemon is on a cache claim", async () => {
    const set = config.runnerSets.find((s) => s.name === "default")!;
    const { pod } = await render("default", "native");
    const cached = withCacheClaim(
      pod,
      { ...set, cache: { volumes: 1, size: "10Gi", scope: "repository" } },
      {
        claim: "default-cache-0",
        check: true,
        queuedAt: new Date(0).toISOString(),
      },
    );
    expect(await createAs("pods", cached)).toMatchObject({ status: 201 });
  });
});

describe("denied with the policy's message", () => {
  const cases: [string, string, (pod: V1Pod) => void][] = [
    [
      "a hostPath volume",
      "hostPath volumes are refused",
      (pod) => {
        pod.spec!.volumes!.push({ name: "host", hostPath: { path: "/" } });
        containerOf(pod, "runner").volumeMounts!.push({ name: "host", mountPath: "/host" });
      },
    ],
    [
      "a privileged runner container",
      "only the dind container is privileged",
      (pod) => {
        containerOf(pod, "runner").securityContext = { privileged: true };
      },
    ],
    ["a Pod with nodeName", "nodeName is refused", (pod) => bindTo(pod, "kwok-node-1")],
    [
      "another ServiceAccount",
      "runs as a configured runner ServiceAccount",
      (pod) => {
        pod.spec!.serviceAccountName = "someone-else";
      },
    ],
    [
      "an image outside the list",
      "images are the runner sets' runner and dind images",
      (pod) => {
        containerOf(pod, "runner").image = "ghcr.io/someone/miner:latest";
      },
    ],
    [
      "hostPID",
      "hostNetwork, hostPID and hostIPC are refused",
      (pod) => {
        pod.spec!.hostPID = true;
      },
    ],
    [
      // The ServiceAccount admission plugin adds the token's projected volume before the policy sees the Pod.
      "a mounted ServiceAccount token",
      "no Secret, projected token or host volumes",
      (pod) => {
        pod.spec!.automountServiceAccountToken = true;
      },
    ],
    [
      "labels the runners' NetworkPolicy doesn't select",
      "carries the runner labels",
      (pod) => {
        pod.metadata!.labels!["app.kubernetes.io/component"] = "not-a-runner";
      },
    ],
    [
      "another Pod's JIT config Secret",
      "reads only its own JIT config Secret",
      (pod) => {
        containerOf(pod, "runner").env!.push({
          name: "STOLEN",
          valueFrom: { secretKeyRef: { name: "default-1-1", key: "jitConfig" } },
        });
      },
    ],
  ];

  it.each(cases)("%s", async (_what, message, change) => {
    const { pod } = await render("default", "native");
    change(pod);
    const result = await createAs("pods", pod);
    expect(result.status).toBe(422);
    expect(result.message).toContain("dind-k8s admission policy");
    expect(result.message).toContain(message);
  });

  it("a privileged dind in the sysbox set, whose profile doesn't need it", async () => {
    const { pod } = await render("sysbox", "native");
    containerOf(pod, "dind").securityContext = { privileged: true };
    const result = await createAs("pods", pod);
    expect(result.message).toContain("only in a runner set whose runtime profile needs it");
  });

  // Kata's privileged dind is isolated by the VM alone: dropped or swapped, that dind runs privileged on the node.
  it.each([
    ["without its RuntimeClass", undefined],
    ["in the default kata RuntimeClass instead of the set's kata-qemu", "kata"],
  ])("a kata set's Pod %s", async (_what, runtimeClassName) => {
    const { pod } = await render("kata", "native");
    expect(pod.spec!.runtimeClassName).toBe("kata-qemu");
    pod.spec!.runtimeClassName = runtimeClassName;
    const result = await createAs("pods", pod);
    expect(result.status).toBe(422);
    expect(result.message).toContain("a runner Pod of a set with a RuntimeClass");
  });

  it("a sysbox set's Pod without its RuntimeClass (sysbox-runc, the profile's default)", async () => {
    const { pod } = await render("sysbox", "native");
    delete pod.spec!.runtimeClassName;
    const result = await createAs("pods", pod);
    expect(result.status).toBe(422);
    expect(result.message).toContain("a runner Pod of a set with a RuntimeClass");
  });

  it("a Secret that isn't a JIT config Secret", async () => {
    const { secret } = await render("default", "native");
    const result = await createAs("secrets", { ...secret, stringData: { ...secret.stringData, other: "x" } });
    expect(result.status).toBe(422);
    expect(result.message).toContain("the scaler creates only runner JIT config Secrets");
  });

  it("while admin, whom the policy doesn't bind, may still create such a Pod (dry run)", async () => {
    const { pod } = await render("default", "native");
    bindTo(pod, "kwok-node-1");
    const created = await admin
      .makeApiClient(CoreV1Api)
      .createNamespacedPod({ namespace: runnerNamespace, body: pod, dryRun: "All" });
    expect(created.spec?.nodeName).toBe("kwok-node-1");
  });
});
