// `dind-k8s check-config --server` and `serve`'s check at start, on the real apiserver, as the scaler's own Role:
// each runner set's Pod and Secret dry-run with strict field validation. The README's example templates pass; a
// typo'd template field and a Pod Security policy that refuses the Pod are named in the apiserver's words.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { main } from "../../src/cli.ts";
import { SCALER_ROLE_RULES } from "../../src/scaler/kube/rbac.ts";
import { createTestNamespace, type PodSecurityLevel, restrictedKubeConfig } from "../helpers/kube.ts";
import { serveArgs, writeServeFiles } from "../helpers/scaler.ts";
import { configWithSets, TEMPLATE_EXAMPLES, templateExample } from "../helpers/templates.ts";

const env = inject("testenv");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dk8s-check-server-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TYPO = `- name: typo
  labels: [dind-k8s, typo]
  maxRunners: 1
  minIdle: 0
  template:
    spec:
      topologySpreadConstraint:
        - { maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway }
`;

/** Runs the CLI in-process: exit code, stdout, stderr. */
async function cli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    readFile: (path) => import("node:fs/promises").then((fs) => fs.readFile(path, "utf8")),
  });
  return { code, stdout, stderr };
}

/** A namespace, the scaler's Role in it, its kubeconfig and a configuration of `sets` there. */
async function setUp(sets: string, podSecurity: PodSecurityLevel = "privileged") {
  const ns = await createTestNamespace(env, "check-server", { podSecurity });
  const kubeconfig = await restrictedKubeConfig(
    env,
    ns.name,
    "dind-k8s-scaler",
    SCALER_ROLE_RULES.map((rule) => ({ ...rule }) as V1PolicyRule),
  );
  const kubeconfigPath = join(dir, `${ns.name}.kubeconfig`);
  const configPath = join(dir, `${ns.name}.yaml`);
  await writeFile(kubeconfigPath, kubeconfig.exportConfig());
  await writeFile(configPath, configWithSets(sets, ns.name));
  const check = () =>
    cli(["check-config", "--config", configPath, "--server", "--kubeconfig", kubeconfigPath]);
  return { ns, configPath, check };
}

describe("check-config --server", () => {
  it("accepts the README's example templates, and stores nothing", async () => {
    const { ns, configPath, check } = await setUp(TEMPLATE_EXAMPLES.map(templateExample).join(""));
    const { code, stdout, stderr } = await check();
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain(`${configPath}: valid. 3 runner sets`);
    expect(stdout).toContain(
      "accepts the Pod and Secret of every runner set (dry run, strict field validation, native sidecars)",
    );
    const core = ns.kc.makeApiClient(CoreV1Api);
    expect((await core.listNamespacedPod({ namespace: ns.name })).items).toEqual([]);
    expect((await core.listNamespacedSecret({ namespace: ns.name })).items).toEqual([]);
  });

  it("a typo'd template field: exit 2, the set and the field named in the apiserver's words", async () => {
    const { configPath, check } = await setUp(`${templateExample("proxy-env")}${TYPO}`);
    const { code, stderr } = await check();
    expect(code).toBe(2);
    expect(stderr).toContain(`${configPath}: the cluster (`);
    expect(stderr).toContain(") refuses 1 object:\n  runnerSets typo: the apiserver refuses its Pod: ");
    expect(stderr).toContain('unknown field "spec.topologySpreadConstraint"');
    expect(stderr).not.toContain("proxied");
  });

  it("a policy that refuses the Pod (Pod Security baseline vs a privileged dind) is named too", async () => {
    const { check } = await setUp(templateExample("zone-spread"), "baseline");
    const { code, stderr } = await check();
    expect(code).toBe(2);
    expect(stderr).toContain("runnerSets spread: the apiserver refuses its Pod: ");
    expect(stderr).toContain('violates PodSecurity "baseline:latest": privileged');
  });
});

describe("serve", () => {
  it("refuses to start when the cluster refuses a runner set's Pod, with the same words", async () => {
    const ns = await createTestNamespace(env, "check-serve", { podSecurity: "privileged" });
    const files = await writeServeFiles(env, {
      namespace: ns.name,
      dir,
      sets: TYPO.replace(/^(?=.)/gm, "  "),
      token: "ghp_unused",
      secrets: ["webhook-secret"],
    });
    const { code, stderr } = await cli(serveArgs(files));
    expect(code).toBe(1);
    expect(stderr).toContain(
      `${files.configPath}: cannot start: the cluster refuses the runner Pods of this configuration (server-side dry run):\n  runnerSets typo: the apiserver refuses its Pod: `,
    );
    expect(stderr).toContain('unknown field "spec.topologySpreadConstraint"');
  });
});
