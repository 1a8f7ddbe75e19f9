// `dind-k8s serve` as a process, as the chart runs it: config file, secrets from files, a kubeconfig of
// the shipped Role, JSON logs; SIGTERM finishes the request in flight, releases the Lease and exits 0.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SCALER_LEASE_NAME } from "../../src/scaler/kube/rbac.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { listeningUrl, runnerSetYaml, serveArgs, writeServeFiles } from "../helpers/scaler.ts";
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
  const files = await writeServeFiles(env, {
    namespace: ns.name,
    dir,
    sets: runnerSetYaml("dind-k8s", 2),
    token: "ghp_serve",
    // Rotation: the current secret, then the previous one.
    secrets: [SECRET, "previous-secret"],
    githubApiUrl: github.url,
    // Re-read the webhook secret file often, so the rotation test needn't wait the default 10 s.
    tuning: { secrets: { reloadMs: 100 } },
  });

  scaler = spawn(process.execPath, [cli, ...serveArgs(files)], {
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  scaler.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  url = await listeningUrl(scaler, (line) => logLines.push(line)).catch((error: unknown) => {
    throw new Error(`${String(error)}: ${stderr}`);
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

  it("takes a rotated secret file without a restart, and logs which secret matched, never its value", async () => {
    // As the kubelet updates a mounted Secret: the new contents in a new directory, then one rename of the
    // ..data symlink, which the file's own path points through.
    const version = join(dir, "..2026_12_01_rotated");
    await mkdir(version);
    await writeFile(join(version, "webhook-secret"), `rotated-secret\n${SECRET}\n`);
    await symlink("..2026_12_01_rotated", join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    await symlink("..data/webhook-secret", join(dir, "webhook-secret.tmp"));
    await rename(join(dir, "webhook-secret.tmp"), join(dir, "webhook-secret"));

    const rotated = JSON.stringify(workflowJobPayload({ action: "queued", jobId: 7010 }));
    const deadline = Date.now() + 10_000;
    let status = await post(rotated, "rotated-secret");
    while (status === 401 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await post(rotated, "rotated-secret");
    }
    expect(status).toBe(201);
    // The old current secret is now the second; the one before it is gone.
    expect(await post(JSON.stringify(workflowJobPayload({ action: "queued", jobId: 7011 })), SECRET)).toBe(
      201,
    );
    expect(
      await post(JSON.stringify(workflowJobPayload({ action: "queued", jobId: 7012 })), "previous-secret"),
    ).toBe(401);

    await new Promise((resolve) => setTimeout(resolve, 100));
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      entries.some(
        (entry) => entry.message === "webhook secrets re-read: the file changed" && entry.secrets === 2,
      ),
    ).toBe(true);
    const queued = (jobId: number) =>
      entries.find((entry) => entry.message === "job queued" && entry.jobId === jobId);
    expect(queued(7001)?.webhookSecret).toBe("first");
    expect(queued(7002)?.webhookSecret).toBe("second");
    expect(queued(7010)?.webhookSecret).toBe("first");
    expect(queued(7011)?.webhookSecret).toBe("second");
    for (const value of [SECRET, "previous-secret", "rotated-secret"]) {
      expect(logLines.filter((line) => line.includes(value))).toEqual([]);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^dind_k8s_webhook_secret_matches_total\{secret="second"\} 2$/m);
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
