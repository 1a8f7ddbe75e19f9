// `npm run demo`: one job's life through dind-k8s on this machine, no cluster and no GitHub needed.
// Starts the local kube-apiserver + etcd + dockerd, the GitHub stand-in and the real `dind-k8s serve`;
// sends a recorded, signed `workflow_job` queued webhook; prints a timeline as the job moves: the real scheduler
// binds the Pod to a kwok Node, kwok plays its kubelet, the real garbage collector removes the JIT Secret. Plays
// the runner (nothing here can run the real Pod); runs the bundled dind-setup action against the local dockerd;
// cleans up and exits 0.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { startTestEnv } from "../test/env/start.ts";
import { startGitHubStandIn } from "../test/helpers/github-standin.ts";
import { createTestNamespace } from "../test/helpers/kube.ts";
import { endRunner } from "../test/helpers/kwok.ts";
import { listeningUrl, realNodesRunnerSetYaml, serveArgs, writeServeFiles } from "../test/helpers/scaler.ts";
import { workflowJobPayload } from "../test/helpers/webhooks.ts";

const root = join(import.meta.dirname, "..");
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let t0 = performance.now();
function step(what: string, detail = ""): void {
  const at = `${((performance.now() - t0) / 1000).toFixed(3)} s`.padStart(9);
  process.stdout.write(`${at}  ${bold(what)}${detail ? `  ${detail}` : ""}\n`);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error(`demo: timed out waiting for ${what}`);
}

process.stdout.write(
  "Starting kube-apiserver, etcd, kube-scheduler, kube-controller-manager, kwok and dockerd (the first run builds them)…\n",
);
// Cut short — Ctrl-C, a SIGTERM, or a reader that went away (`npm run demo | head`) — the demo still cleans up:
// during start-up once the environment is up (its daemons are guarded, but its directory and bridge are not),
// afterwards at once.
let interruptedWith: number | undefined;
let cleanUp: (() => Promise<void>) | undefined;
const interrupt = (code: number) => () => {
  interruptedWith ??= code;
  if (cleanUp) void cleanUp().finally(() => process.exit(code));
};
process.once("SIGINT", interrupt(130));
process.once("SIGTERM", interrupt(143));
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") interrupt(0)();
});

const started = await startTestEnv({ install: true });
const { env } = started;
const dir = await mkdtemp(join(tmpdir(), "dind-k8s-demo-"));
let scaler: ChildProcess | undefined;
const github = await startGitHubStandIn({ target: { kind: "org", org: "octo-org" }, token: "ghp_demo" });

/** Stops what the demo started and removes its files, once, whichever way the demo ends. */
let cleaning: Promise<void> | undefined;
cleanUp = () => {
  cleaning ??= (async () => {
    if (scaler && scaler.exitCode === null) {
      const exited = new Promise((resolve) => scaler?.once("exit", resolve));
      scaler.kill("SIGTERM");
      await exited;
    }
    await github.close();
    // The test environment's stop removes its daemons, its temp dir and its network bridge.
    await started.stop();
    await rm(dir, { recursive: true, force: true });
  })();
  return cleaning;
};
if (interruptedWith !== undefined) {
  await cleanUp();
  process.exit(interruptedWith);
}
try {
  const ns = await createTestNamespace(env, "dind-runners", { podSecurity: "privileged" });
  const core = ns.kc.makeApiClient(CoreV1Api);
  /** What `kubectl get pods` shows at this moment, under the timeline. */
  const getPods = async (why: string) => {
    const pods = (await core.listNamespacedPod({ namespace: ns.name })).items;
    const rows = pods.map((pod) => {
      const statuses = pod.status?.containerStatuses ?? [];
      const status =
        (pod.spec?.schedulingGates ?? []).length > 0 ? "SchedulingGated" : (pod.status?.phase ?? "");
      return [
        pod.metadata?.name ?? "",
        `${statuses.filter((c) => c.ready).length}/${pod.spec?.containers.length}`,
        status,
        pod.spec?.nodeName ?? "<none>",
      ];
    });
    const table = [["NAME", "READY", "STATUS", "NODE"], ...rows];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    process.stdout.write(`           $ kubectl get pods -o wide   (${why})\n`);
    for (const row of table)
      process.stdout.write(
        `           ${row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join("   ")
          .trimEnd()}\n`,
      );
  };
  const files = await writeServeFiles(env, {
    namespace: ns.name,
    dir,
    sets: realNodesRunnerSetYaml("dind-k8s", 10),
    token: "ghp_demo",
    secrets: ["demo-secret"],
    githubApiUrl: github.url,
    tuning: {
      reconciler: { resyncMs: 500 },
      lease: { leaseDurationMs: 3_000, retryPeriodMs: 100 },
    },
  });
  process.stdout.write(`\nkube-apiserver ${env.kube.version} (RBAC on) · dockerd ${env.docker.host}\n`);
  process.stdout.write(`config (${files.configPath}):\n${files.configText.replace(/^/gm, "  ")}\n`);

  scaler = spawn(process.execPath, [join(root, "src/cli.ts"), ...serveArgs(files)], {
    env: process.env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await listeningUrl(scaler);
  await until("the scaler to be ready", async () => ((await fetch(`${url}/readyz`)).ok ? true : undefined));
  github.setHook({ url: `${url}/webhook`, secret: "demo-secret" });
  process.stdout.write(
    `dind-k8s serve is listening on ${url} (as ServiceAccount dind-k8s-scaler, the chart's Role)\n\n`,
  );

  // The job GitHub queues, and its webhook (a recorded payload from GitHub's docs, re-labelled, signed).
  const job = github.addQueuedJob({ labels: ["self-hosted", "dind-k8s"], repo: "octo-org/example-workflow" });
  const payload = (action: "queued" | "in_progress" | "completed", runnerName?: string) =>
    workflowJobPayload({ action, jobId: job.id, runId: job.runId, runnerName: runnerName ?? null });
  const podName = `dind-k8s-${job.id}-1`;

  t0 = performance.now();
  const delivery = await github.deliver("workflow_job", payload("queued"));
  step(
    "webhook delivered, signature verified",
    `workflow_job queued, job ${job.id} → HTTP ${delivery.statusCode}`,
  );
  const gated = await core.readNamespacedPod({ name: podName, namespace: ns.name });
  step(
    "gated runner Pod exists (the durable record)",
    `${podName}, gate ${gated.spec?.schedulingGates?.[0]?.name}`,
  );
  await getPods(`${podName} waits behind its gate`);

  const secret = await until("the JIT Secret", async () =>
    core.readNamespacedSecret({ name: podName, namespace: ns.name }).catch(() => undefined),
  );
  step(
    "JIT config Secret created",
    `${secret.metadata?.name}, owned by the Pod; runner registered at GitHub`,
  );
  const released = await until("the gate to be released", async () => {
    const pod = await core.readNamespacedPod({ name: podName, namespace: ns.name });
    return (pod.spec?.schedulingGates ?? []).length === 0 ? pod : undefined;
  });
  step("scheduling gate removed", "the scheduler may place the Pod now");

  const bound = await until("the scheduler to bind the Pod", async () => {
    const pod = await core.readNamespacedPod({ name: podName, namespace: ns.name });
    return pod.spec?.nodeName;
  });
  step("kube-scheduler bound the Pod", `to Node ${bound} (kwok)`);
  await until("the Pod to run", async () => {
    const pod = await core.readNamespacedPod({ name: podName, namespace: ns.name });
    return pod.status?.phase === "Running" ? pod : undefined;
  });
  github.setRunnerStatus(podName, "online");
  step("kwok (the Node's kubelet): Pod Running", "dind sidecar ready, runner connected");
  await getPods(`${podName} runs`);
  github.startJob(job.id, podName);
  await github.deliver("workflow_job", payload("in_progress", podName));
  step("job in progress on the runner", `workflow_job in_progress → runner ${podName}`);

  process.stdout.write(
    "\n   the job's first step, uses: dind-k8s/dind-k8s@v1, against this machine's dockerd:\n",
  );
  const actionDir = await mkdtemp(join(dir, "action-"));
  const summaryFile = join(actionDir, "summary");
  await writeFile(summaryFile, "");
  for (const name of ["env", "output", "state"]) await writeFile(join(actionDir, name), "");
  const action = spawn(process.execPath, [join(root, "dist/action/main.js")], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DOCKER_HOST: env.docker.host,
      "INPUT_DOCKER-HOST": "",
      INPUT_TIMEOUT: "30",
      INPUT_CONTEXT: "",
      GITHUB_ENV: join(actionDir, "env"),
      GITHUB_OUTPUT: join(actionDir, "output"),
      GITHUB_STATE: join(actionDir, "state"),
      GITHUB_STEP_SUMMARY: summaryFile,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let actionLog = "";
  action.stdout?.on("data", (chunk: Buffer) => {
    actionLog += chunk.toString();
  });
  action.stderr?.on("data", (chunk: Buffer) => {
    actionLog += chunk.toString();
  });
  const actionCode = await new Promise<number | null>((resolve) => action.on("exit", resolve));
  process.stdout.write(actionLog.replace(/^/gm, "   │ "));
  process.stdout.write(
    `\n   job summary:\n${(await readFile(summaryFile, "utf8")).trim().replace(/^/gm, "   │ ")}\n\n`,
  );
  step(
    `dind-setup ${actionCode === 0 ? "succeeded" : `failed (exit ${actionCode})`}`,
    "DOCKER_HOST exported for the next steps",
  );

  github.completeJob(job.id);
  await github.deliver("workflow_job", payload("completed", podName));
  await endRunner(ns.kc, ns.name, podName);
  step("job completed; the ephemeral runner exits", "GitHub removed the runner");
  await until("the Pod to be gone", async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns.name })).items.filter(
      (pod: V1Pod) => (pod.spec?.schedulingGates ?? []).length === 0,
    );
    return pods.length === 0 ? true : undefined;
  });
  step("runner Pod deleted by the scaler, removed by kwok", "its graph storage went with the Pod");
  await until("the Secret to be gone", async () => {
    const secrets = (await core.listNamespacedSecret({ namespace: ns.name })).items;
    return secrets.length === 0 ? true : undefined;
  });
  step("garbage collector removed the JIT Secret", "its owner, the Pod, is gone; nothing of the job is left");

  process.stdout.write(
    `\nThe runner Pod as the scaler created it (kubectl get pod ${podName} -o yaml):\n---\n`,
  );
  const shown = structuredClone(released);
  delete shown.metadata?.managedFields;
  process.stdout.write(stringify(shown, { lineWidth: 0 }));
  const metrics = await (await fetch(`${url}/metrics`)).text();
  process.stdout.write(
    `\nSome of /metrics:\n${metrics
      .split("\n")
      .filter((line) => /^dind_k8s_(jobs_|webhook_deliveries_total|job_startup_seconds_count)/.test(line))
      .map((line) => `  ${line}`)
      .join("\n")}\n`,
  );
  if (github.violations.length > 0)
    throw new Error(`GitHub API misuse: ${JSON.stringify(github.violations)}`);
  if (actionCode !== 0) process.exitCode = 1;
} finally {
  await cleanUp();
}
process.stdout.write("\nDone: everything stopped and cleaned up.\n");
