// The package bin (dist/scaler/cli.js, the bundle users run) as a process: what `render` prints for the minimal
// file is accepted by a real apiserver, and a bad file exits 2 with the problems on stderr.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, loadAllYaml, type V1Pod, type V1Secret } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestNamespace } from "../helpers/kube.ts";

const env = inject("testenv");
const root = join(import.meta.dirname, "../..");
const bin = join(root, "dist/scaler/cli.js");
const minimal = join(root, "test/fixtures/config/minimal.yaml");

function dindK8s(args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") reject(error);
      else resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
    });
  });
}

describe("dind-k8s (bundled bin)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dk8s-cli-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("render of the minimal file prints a Pod and a Secret the apiserver accepts as they are", async () => {
    const { code, stdout, stderr } = await dindK8s(["render", "--config", minimal, "--set", "dind-k8s"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const [pod, secret, ...rest] = loadAllYaml(stdout) as [V1Pod, V1Secret];
    expect(rest).toEqual([]);
    expect([pod.kind, secret.kind]).toEqual(["Pod", "Secret"]);

    const ns = await createTestNamespace(env, "cli-render", { podSecurity: "privileged" });
    const core = ns.kc.makeApiClient(CoreV1Api);
    // Only the namespace changes: the file says dind-runners, the test works in its own.
    pod.metadata!.namespace = ns.name;
    secret.metadata!.namespace = ns.name;
    const created = await core.createNamespacedPod({
      namespace: ns.name,
      body: pod,
      fieldValidation: "Strict",
    });
    expect(created.spec?.schedulingGates).toEqual([{ name: "dind-k8s.io/jit-config" }]);
    const createdSecret = await core.createNamespacedSecret({
      namespace: ns.name,
      body: secret,
      fieldValidation: "Strict",
    });
    expect(createdSecret.metadata?.name).toBe(created.metadata?.name);
  });

  it("check-config of a bad file exits 2 and names the file, the key and what was expected", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      "github: { org: o, auth: { tokenFile: /t }, webhookSecretFile: /w, hookId: 1 }\nkubernetes: { namespace: ns }\nrunnerSets:\n  - { name: s, labels: [x], maxRunners: -1, minIdle: 0 }\n",
    );
    const { code, stdout, stderr } = await dindK8s(["check-config", "--config", bad]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      `${bad}: 1 problem in the configuration:\n  runnerSets[0].maxRunners: expected a whole number ≥ 0, got -1 (line 4)\n`,
    );
  });

  it.each([[["--help"]], [["check-config", "--help"]], [["render", "--help"]]])(
    "%o exits 0 with usage",
    async (args) => {
      const { code, stdout } = await dindK8s(args);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: dind-k8s /);
    },
  );
});
