// Secrets rotate without a restart: `dind-k8s serve` re-reads the mounted GitHub token when Kubernetes updates the
// Secret, and the next GitHub call goes out with the new one. (The webhook secret's rotation: scaler-serve.test.ts.)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually } from "../helpers/eventually.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { listeningUrl, runnerSetYaml, serveArgs, writeServeFiles } from "../helpers/scaler.ts";
import { deliver, workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");
const cli = join(import.meta.dirname, "../../src/cli.ts");
const SECRET = "rotation-test-secret";
/** A token re-read, then a probe or a reconcile pass: this test has always given them 15 s. */
const ROTATION_WAIT = { timeoutMs: 15_000, intervalMs: 100 };

let ns: TestNamespace;
let github: GitHubStandIn;
let dir: string;
let scaler: ChildProcess;
let url: string;
const logLines: string[] = [];

const reachable = async () =>
  /^dind_k8s_github_reachable (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1];

beforeAll(async () => {
  ns = await createTestNamespace(env, "rotation", { podSecurity: "privileged" });
  // GitHub already takes only the new token; the scaler starts with the old one.
  github = await startGitHubStandIn({ target: { kind: "org", org: "octo-org" }, token: "ghp_new" });
  dir = await mkdtemp(join(tmpdir(), "dind-k8s-rotation-"));
  const files = await writeServeFiles(env, {
    namespace: ns.name,
    dir,
    sets: runnerSetYaml("dind-k8s", 2),
    token: "ghp_old",
    secrets: [SECRET],
    githubApiUrl: github.url,
    tuning: { secrets: { reloadMs: 100 }, reconciler: { resyncMs: 200, backoffMs: 100, maxBackoffMs: 200 } },
  });
  scaler = spawn(process.execPath, [cli, ...serveArgs(files)], {
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  url = await listeningUrl(scaler, (line) => logLines.push(line));
});

afterAll(async () => {
  if (scaler && scaler.exitCode === null) scaler.kill("SIGKILL");
  await github?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a rotated GitHub token", () => {
  it("is used from the next call on, without a restart, and never logged", async () => {
    const queued = await deliver(url, "workflow_job", workflowJobPayload({ action: "queued", jobId: 8801 }), {
      secret: SECRET,
    });
    expect(queued.status).toBe(201);
    // The old token is refused: GitHub unreachable as far as the scaler can tell, the job's Pod stays gated.
    await eventually(
      "the probe to fail with the old token",
      async () => ((await reachable()) === "0" ? true : undefined),
      ROTATION_WAIT,
    );
    const core = ns.kc.makeApiClient(CoreV1Api);
    const gated = async () =>
      (await core.readNamespacedPod({ name: "dind-k8s-8801-1", namespace: ns.name })).spec?.schedulingGates
        ?.length ?? 0;
    expect(await gated()).toBe(1);

    // As the kubelet updates a mounted Secret: a new directory, then one rename of the ..data symlink.
    await mkdir(join(dir, "..2026_12_01_new"));
    await writeFile(join(dir, "..2026_12_01_new", "token"), "ghp_new\n");
    await symlink("..2026_12_01_new", join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    await symlink("..data/token", join(dir, "token.tmp"));
    await rename(join(dir, "token.tmp"), join(dir, "token"));

    await eventually(
      "the job's runner to be released with the new token",
      async () => ((await gated()) === 0 ? true : undefined),
      ROTATION_WAIT,
    );
    expect(github.runners().map((runner) => runner.name)).toEqual(["dind-k8s-8801-1"]);
    expect(scaler.exitCode).toBe(null);
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.some((entry) => entry.message === "GitHub token re-read: the file changed")).toBe(true);
    expect(logLines.filter((line) => line.includes("ghp_new") || line.includes("ghp_old"))).toEqual([]);
  });
});
