// `dind-k8s serve` as a process, as the chart runs it: config file, secrets from files, a kubeconfig of
// the shipped Role, JSON logs; SIGTERM finishes the request in flight, releases the Lease and exits 0.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoordinationV1Api, CoreV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SCALER_LEASE_NAME, SCALER_ROLE_RULES } from "../../src/scaler/kube/rbac.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { createTestNamespace, restrictedKubeConfig, type TestNamespace } from "../helpers/kube.ts";
import { testConfigYaml } from "../helpers/scaler.ts";
import { sign, workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");
const cli = join(import.meta.dirname, "../../src/cli.ts");
const SECRET = "serve-test-secret";

let ns: TestNamespace;
let github: GitHubStandIn;
let dir: string;
let scaler: ChildProcess;
let url: string;
const logLines: string[] = [];

beforeAll(async () => {
  ns = await createTestNamespace(env, "serve", { podSecurity: "privileged" });
  github = await startGitHubStandIn({ target: { kind: "org", org: "octo-org" }, token: "ghp_serve" });
  dir = await mkdtemp(join(tmpdir(), "dind-k8s-serve-"));
  const kubeConfig = await restrictedKubeConfig(
    env,
    ns.name,
    "dind-k8s-scaler",
    SCALER_ROLE_RULES.map((rule) => ({ ...rule }) as V1PolicyRule),
  );
  await writeFile(join(dir, "kubeconfig"), kubeConfig.exportConfig());
  await writeFile(join(dir, "token"), "ghp_serve\n");
  // Rotation: the current secret, then the previous one.
  await writeFile(join(dir, "webhook-secret"), `${SECRET}\nprevious-secret\n`);
  const config = testConfigYaml(
    ns.name,
    ["  - name: dind-k8s", "    labels: [dind-k8s]", "    maxRunners: 2", "    minIdle: 0"].join("\n"),
  )
    .replace(
      "auth: { appId: 1, privateKeyFile: /secrets/app.pem }",
      `auth: { tokenFile: ${join(dir, "token")} }`,
    )
    .replace(
      "webhookSecretFile: /secrets/webhook-secret",
      `webhookSecretFile: ${join(dir, "webhook-secret")}\n  hookId: 1`,
    );
  await writeFile(join(dir, "config.yaml"), config);

  scaler = spawn(
    process.execPath,
    [
      cli,
      "serve",
      "--config",
      join(dir, "config.yaml"),
      "--port",
      "0",
      "--kubeconfig",
      join(dir, "kubeconfig"),
    ],
    { env: { ...process.env, DIND_K8S_GITHUB_API_URL: github.url }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  scaler.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    scaler.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        logLines.push(line);
        const entry = JSON.parse(line) as { message: string; url?: string };
        if (entry.message === "scaler listening" && entry.url) resolve(entry.url);
      }
    });
    scaler.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
});

afterAll(async () => {
  if (scaler && scaler.exitCode === null) scaler.kill("SIGKILL");
  await github?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function post(body: string, secret: string): Promise<number> {
  return fetch(`${url}/webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "workflow_job",
      "x-hub-signature-256": sign(body, secret),
    },
    body,
  }).then((response) => response.status);
}

describe("dind-k8s serve", () => {
  it("takes webhooks signed with either secret and releases the job as the Lease holder", async () => {
    expect(await post(JSON.stringify(workflowJobPayload({ action: "queued", jobId: 7001 })), SECRET)).toBe(
      201,
    );
    expect(
      await post(JSON.stringify(workflowJobPayload({ action: "queued", jobId: 7002 })), "previous-secret"),
    ).toBe(201);
    const core = ns.kc.makeApiClient(CoreV1Api);
    const deadline = Date.now() + 15_000;
    let released = 0;
    while (Date.now() < deadline && released < 2) {
      const pods = (await core.listNamespacedPod({ namespace: ns.name })).items;
      released = pods.filter((pod) => (pod.spec?.schedulingGates ?? []).length === 0).length;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(released).toBe(2);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it("logs JSON lines that carry the job id", () => {
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.every((entry) => typeof entry.time === "string" && typeof entry.level === "string")).toBe(
      true,
    );
    expect(entries.some((entry) => entry.message === "job queued" && entry.jobId === 7001)).toBe(true);
  });

  it("on SIGTERM finishes the request in flight, releases the Lease and exits 0", async () => {
    const body = JSON.stringify(workflowJobPayload({ action: "queued", jobId: 7003 }));
    const target = new URL(`${url}/webhook`);
    const inFlight = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            "x-github-event": "workflow_job",
            "x-hub-signature-256": sign(body, SECRET),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      // Half the body now, SIGTERM, then the rest.
      req.write(body.slice(0, 100));
      setTimeout(() => {
        scaler.kill("SIGTERM");
        setTimeout(() => req.end(body.slice(100)), 200);
      }, 100);
    });
    const exited = new Promise<number | null>((resolve) => scaler.on("exit", resolve));
    expect(await inFlight).toBe(201);
    expect(await exited).toBe(0);
    const lease = await ns.kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: SCALER_LEASE_NAME, namespace: ns.name });
    expect(lease.spec?.holderIdentity).toBe("");
    expect(github.violations).toEqual([]);
  });
});
