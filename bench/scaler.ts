// Scaler benchmarks on the real apiserver, each printed as a ratio against a baseline measured in the
// same run: a bare create of the same Pod, as the scaler's ServiceAccount through the scaler's own client,
// from the same machine, at the same rate.
//   intake: webhook → durable record (the 2xx) at a steady rate, p50/p99 vs bare, and the scaler's own share
//   burst:  1,000 queued jobs at once, GitHub stand-in at 200 ms per call: time to record all vs bare,
//           and GitHub calls per job once every runner is released
//   scale:  mean webhook cost with 100 vs 10,000 runner Pods already in the namespace (raw, and relative to
//           bare creates interleaved with it), and the scaler's RSS
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { parseConfig } from "../src/scaler/config/load.ts";
import type { KubeClient } from "../src/scaler/kube/client.ts";
import { loadKubeClient } from "../src/scaler/kube/load.ts";
import { whileThrottled } from "../src/scaler/kube/throttled.ts";
import { LABELS } from "../src/scaler/model/keys.ts";
import { buildRunnerPod } from "../src/scaler/runner-pod/build-runner-pod.ts";
import type { TestEnv } from "../test/env/types.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../test/helpers/github-standin.ts";
import { createTestNamespace } from "../test/helpers/kube.ts";
import {
  imageNodeFlags,
  listeningUrl,
  runnerSetYaml,
  serveArgs,
  serveConfigYaml,
  writeServeFiles,
} from "../test/helpers/scaler.ts";
import { sign, workflowJobPayload } from "../test/helpers/webhooks.ts";

export const SECRET = "bench-secret";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
export const fixed = (value: number, digits = 2) => value.toFixed(digits);

interface BenchScaler {
  url: string;
  pid: number;
  process: ChildProcess;
  ns: string;
  kc: KubeConfig;
  /** The scaler's own identity (its ServiceAccount token) through the scaler's own client: the bare path. */
  kube: KubeClient;
  /** client-node's CoreV1Api on that client's connection pool, as RunnerPods holds it. */
  core: CoreV1Api;
  github: GitHubStandIn;
  podFor(jobId: number): V1Pod;
  /** The scaler's first error log lines. */
  errors: string[];
  /** The scaler's own time per recorded webhook, from its "job queued" log lines (durationMs), in order. */
  serverMs: number[];
  stop(): Promise<void>;
}

/** A real `dind-k8s serve` process in a fresh namespace, as the shipped Role, against the GitHub stand-in. */
export async function startBenchScaler(
  env: TestEnv,
  {
    maxRunners,
    latencyMs,
    prefix,
    github: githubKeys,
  }: {
    maxRunners: number;
    latencyMs: number;
    prefix: string;
    /** More keys of the configuration's `github:` (e.g. intake: poll). */
    github?: Record<string, string | number>;
  },
  beforeStart?: (ns: string, kc: KubeConfig, podFor: (jobId: number) => V1Pod) => Promise<void>,
): Promise<BenchScaler> {
  const ns = await createTestNamespace(env, prefix, { podSecurity: "privileged" });
  const github = await startGitHubStandIn({
    target: { kind: "org", org: "octo-org" },
    token: "ghp_bench",
    latencyMs,
  });
  const dir = await mkdtemp(join(tmpdir(), "dind-k8s-bench-"));
  // The benchmarks measure intake, not the backlog bound: room for every job they send and every Pod they seed.
  const sets = runnerSetYaml("dind-k8s", maxRunners, 100_000);
  const config = parseConfig(serveConfigYaml(ns.name, dir, sets), "bench.yaml");
  const set = config.runnerSets[0]!;
  const podFor = (jobId: number) =>
    buildRunnerPod(set, { kind: "job", jobId, runAttempt: 1 }, { namespace: ns.name, sidecars: "native" })
      .pod;
  await beforeStart?.(ns.name, ns.kc, podFor);

  const files = await writeServeFiles(env, {
    namespace: ns.name,
    dir,
    sets,
    token: "ghp_bench",
    secrets: [SECRET],
    githubApiUrl: github.url,
    ...(githubKeys ? { github: githubKeys } : {}),
    tuning: {
      reconciler: { releaseConcurrency: 16 },
      recovery: { redeliveryMs: 600_000, auditMs: 600_000 },
    },
  });
  const child = spawn(
    process.execPath,
    [
      // The bundle, as the image runs it (bench/run.ts builds it first), with the image's Node flags.
      ...(await imageNodeFlags()),
      // DIND_K8S_BENCH_NODE_FLAGS: more, to look inside (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
      ...(process.env.DIND_K8S_BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
      join(import.meta.dirname, "../dist/scaler/cli.js"),
      ...serveArgs(files, { logLevel: "info" }),
    ],
    {
      env: process.env,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const errors: string[] = [];
  const serverMs: number[] = [];
  const kube = loadKubeClient(files.kubeconfigPath);
  const core = kube.api(CoreV1Api);
  // Keep the scaler's errors: a failed benchmark shows why.
  const url = await listeningUrl(child, (line) => {
    if (line.includes('"level":"error"') && errors.length < 20) errors.push(line);
    if (line.includes('"message":"job queued"')) {
      const { durationMs } = JSON.parse(line) as { durationMs?: number };
      if (durationMs !== undefined) serverMs.push(durationMs);
    }
  });
  // Readiness (informer synced) before measuring.
  for (let i = 0; i < 600; i++) {
    if ((await fetch(`${url}/readyz`)).ok) break;
    await sleep(100);
  }
  return {
    url,
    pid: child.pid!,
    process: child,
    ns: ns.name,
    kc: ns.kc,
    kube,
    core,
    github,
    podFor,
    errors,
    serverMs,
    async stop() {
      await kube.close();
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      await github.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Webhooks are sent over node:http with keep-alive, the leanest sender Node has: measured on this machine, a ping
 * round trip to the scaler costs 0.8 ms this way and 1.2 ms through fetch, and that difference is the sender's,
 * not the scaler's.
 */
const webhookAgent = new HttpAgent({ keepAlive: true, maxSockets: 256 });

export async function postQueued(url: string, jobId: number): Promise<{ status: number; ms: number }> {
  const body = JSON.stringify(workflowJobPayload({ action: "queued", jobId }));
  const headers = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    "x-github-event": "workflow_job",
    "x-hub-signature-256": sign(body, SECRET),
  };
  const started = performance.now();
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      `${url}/webhook`,
      { method: "POST", headers, agent: webhookAgent },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
  return { status, ms: performance.now() - started };
}

/**
 * The bare path: one POST of the Pod as the scaler's ServiceAccount, through the scaler's own client, waiting out
 * 429s as any well-behaved client does. The same identity matters: API Priority and Fairness queues a
 * ServiceAccount's writes, while an admin (system:masters) is exempt, so an admin baseline would measure APF.
 */
async function bareCreate(core: CoreV1Api, namespace: string, pod: V1Pod): Promise<number> {
  // The same Pod, of no runner set the scaler has: it must not take these for queued jobs (with fair release it
  // would give them half the slots, as another repository's).
  const labels = pod.metadata?.labels;
  if (labels) labels[LABELS.runnerSet] = "bare-baseline";
  const started = performance.now();
  await whileThrottled(() => core.createNamespacedPod({ namespace, body: pod }));
  return performance.now() - started;
}

/** Runs `act(i)` for i < count, starting one every `intervalMs` (a steady arrival rate, not back-to-back). */
export async function atRate<T>(
  count: number,
  intervalMs: number,
  act: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: Promise<T>[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    results.push(act(i));
  }
  return Promise.all(results);
}

export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export async function benchIntake(env: TestEnv): Promise<string> {
  const scaler = await startBenchScaler(env, { maxRunners: 0, latencyMs: 0, prefix: "bench-intake" });
  try {
    const bareCore = scaler.core;
    // 500 of each: a p99 over fewer samples is one or two outliers and moves by ±0.3× between runs.
    const count = 500;
    // 20 webhooks and 20 bare creates per second: steady load well inside what one small apiserver takes.
    const intervalMs = 50;
    // Warm both paths (TLS sessions, JIT) before measuring.
    await atRate(20, intervalMs, (i) => postQueued(scaler.url, 1_000_000 + i));
    await atRate(20, intervalMs, (i) => bareCreate(bareCore, scaler.ns, { ...scaler.podFor(2_000_000 + i) }));
    // Both at the same rate over the same seconds, interleaved, so both meet the same apiserver load.
    const [intake, bare] = await Promise.all([
      atRate(count, intervalMs, (i) => postQueued(scaler.url, 3_000_000 + i)),
      sleep(intervalMs / 2).then(() =>
        atRate(count, intervalMs, (i) => bareCreate(bareCore, scaler.ns, scaler.podFor(4_000_000 + i))),
      ),
    ]);
    const failed = intake.filter((result) => result.status !== 201).length;
    if (failed > 0) throw new Error(`${failed} of ${count} webhooks were not recorded`);
    const times = intake.map((result) => result.ms);
    const p99 = percentile(times, 99);
    const bareP99 = percentile(bare, 99);
    // The scaler's own share (body received → record written, as it logs it): what is left of the end-to-end
    // time is the HTTP hop from the sender, two processes waking up on a shared machine.
    const serverP99 = percentile(scaler.serverMs.slice(-count), 99);
    return `intake: p50_ms=${fixed(percentile(times, 50))} p99_ms=${fixed(p99)} bare_p99_ms=${fixed(bareP99)} ratio=${fixed(p99 / bareP99)} server_p99_ms=${fixed(serverP99)} server_ratio=${fixed(serverP99 / bareP99)}`;
  } finally {
    await scaler.stop();
  }
}

export async function benchBurst(env: TestEnv): Promise<string> {
  const jobs = 1_000;
  const scaler = await startBenchScaler(env, { maxRunners: jobs, latencyMs: 200, prefix: "bench-burst" });
  try {
    const bareCore = scaler.core;
    const core = scaler.kc.makeApiClient(CoreV1Api);
    const callsBefore = scaler.github.calls();
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: jobs }, (_, i) => postQueued(scaler.url, 5_000_000 + i)),
    );
    const recordedS = (performance.now() - started) / 1000;
    const notRecorded = results.filter((result) => result.status !== 201).length;
    if (notRecorded > 0) {
      const statuses = [...new Set(results.map((result) => result.status))].join(", ");
      throw new Error(
        `${notRecorded} of ${jobs} webhooks were not recorded (statuses: ${statuses}); scaler errors:\n${scaler.errors.slice(0, 3).join("\n")}`,
      );
    }

    const bareStarted = performance.now();
    await Promise.all(
      Array.from({ length: jobs }, (_, i) => bareCreate(bareCore, scaler.ns, scaler.podFor(6_000_000 + i))),
    );
    const bareS = (performance.now() - bareStarted) / 1000;

    // Every job's runner released (JIT config created): then count what it cost at GitHub.
    const deadline = Date.now() + 300_000;
    for (;;) {
      const pods = (
        await whileThrottled(() =>
          core.listNamespacedPod({ namespace: scaler.ns, labelSelector: "dind-k8s.io/kind=job" }),
        )
      ).items;
      const released = pods.filter(
        (pod) =>
          Number(pod.metadata?.labels?.["dind-k8s.io/job-id"]) < 6_000_000 &&
          !pod.spec?.schedulingGates?.length,
      ).length;
      if (released >= jobs) break;
      if (Date.now() > deadline) {
        const secrets = new Set(
          (await core.listNamespacedSecret({ namespace: scaler.ns })).items.map(
            (secret) => secret.metadata?.name,
          ),
        );
        const gated = pods.filter((pod) => pod.spec?.schedulingGates?.length);
        const withSecret = gated.filter((pod) => secrets.has(pod.metadata?.name)).length;
        throw new Error(
          `only ${released} of ${jobs} runners released after 5 minutes; ${gated.length} still gated (${withSecret} of them with a JIT Secret); scaler errors:\n${scaler.errors.slice(-5).join("\n")}`,
        );
      }
      await sleep(500);
    }
    const perJob = (scaler.github.calls() - callsBefore) / jobs;
    if (scaler.github.violations.length > 0)
      throw new Error("GitHub stand-in saw requests outside GitHub's API");
    return `burst: jobs=${jobs} recorded_s=${fixed(recordedS)} bare_s=${fixed(bareS)} ratio=${fixed(recordedS / bareS)} github_calls_per_job=${fixed(perJob)}`;
  } finally {
    await scaler.stop();
  }
}

async function seedPods(core: CoreV1Api, namespace: string, podFor: (jobId: number) => V1Pod, count: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const i = next++;
        await core.createNamespacedPod({ namespace, body: podFor(10_000_000 + i) });
      }
    }),
  );
}

export async function benchScale(env: TestEnv): Promise<string> {
  const measure = async (existing: number) => {
    const scaler = await startBenchScaler(
      env,
      { maxRunners: 0, latencyMs: 0, prefix: `bench-scale-${existing}` },
      (namespace, kc, podFor) => seedPods(kc.makeApiClient(CoreV1Api), namespace, podFor, existing),
    );
    try {
      await atRate(20, 10, (i) => postQueued(scaler.url, 20_000_000 + i));
      const results: number[] = [];
      // Each webhook followed by one bare create: how much of a change is the apiserver's own (a create among
      // 10,000 Pods) rather than the scaler's shows side by side.
      const bare: number[] = [];
      for (let i = 0; i < 200; i++) {
        results.push((await postQueued(scaler.url, 21_000_000 + i)).ms);
        bare.push(await bareCreate(scaler.core, scaler.ns, scaler.podFor(22_000_000 + i)));
      }
      const metrics = await (await fetch(`${scaler.url}/metrics`)).text();
      const heapBytes = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN);
      const metric = (name: string) =>
        Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);
      const passes = metric("dind_k8s_reconcile_pass_seconds_count");
      return {
        cost: mean(results),
        bare: mean(bare),
        server: mean(scaler.serverMs.slice(-results.length)),
        passes,
        passMs: (metric("dind_k8s_reconcile_pass_seconds_sum") / passes) * 1000,
        rss: await rssMb(scaler.pid),
        heap: heapBytes / 1024 / 1024,
      };
    } finally {
      await scaler.stop();
    }
  };
  const small = await measure(100);
  const large = await measure(10_000);
  // The apiserver itself answers a create among 10,000 Pods at a different speed than among 100 (measured here
  // between 0.75× and 1.26× from run to run), and the two phases run a minute apart. Webhook cost relative to the
  // bare creates interleaved with it in the same phase takes the apiserver's share out of the comparison.
  const relative = large.cost / large.bare / (small.cost / small.bare);
  return `scale: cost_100=${fixed(small.cost)} cost_10000=${fixed(large.cost)} ratio=${fixed(large.cost / small.cost)} rss_mb=${fixed(large.rss, 0)} heap_mb=${fixed(large.heap, 0)} rss_100_mb=${fixed(small.rss, 0)} bare_100=${fixed(small.bare)} bare_10000=${fixed(large.bare)} server_100=${fixed(small.server)} server_10000=${fixed(large.server)} relative_ratio=${fixed(relative)} passes_10000=${large.passes} pass_ms_10000=${fixed(large.passMs)}`;
}
