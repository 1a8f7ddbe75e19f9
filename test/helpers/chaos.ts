// A burst of jobs through real `dind-k8s serve` processes on the real apiserver, with GitHub's side played
// by the stand-in, while things go wrong: every delivery twice, some dropped (only the redelivery API
// brings them back), some overtaken by later ones, replicas killed with SIGKILL and restarted, two
// replicas at once for a while. The real scheduler binds released Pods to kwok's Nodes and kwok runs them; the
// test side plays the runners: once its Pod runs a runner comes online, GitHub gives it any queued job, the job
// ends, the runner exits (through kwok's Stage); kwok and the real garbage collector clean up.
import { type ChildProcess, spawn } from "node:child_process";
import { openSync, writeSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import type { TestEnv } from "../env/types.ts";
import { type CuttableProxy, startCuttableProxy } from "./cuttable-proxy.ts";
import { type GitHubStandIn, type StandInJob, startGitHubStandIn } from "./github-standin.ts";
import { createTestNamespace } from "./kube.ts";
import { endRunner } from "./kwok.ts";
import { realNodesRunnerSetYaml, serveArgs, writeServeFiles } from "./scaler.ts";
import { workflowJobPayload } from "./webhooks.ts";

export interface ChaosOptions {
  jobs: number;
  maxRunners: number;
  /** SIGKILLs of a scaler replica, spread over the burst; each is restarted a moment later. */
  kills: number;
  /** Share of events whose deliveries are both dropped (recoverable only through the redelivery API). */
  dropRate: number;
  /** Share of events delivered late, after events that happened after them. */
  reorderRate: number;
  /** How long each job runs once a runner took it. */
  jobMs: number;
  /** Give up after this long. */
  timeoutMs: number;
  seed?: number;
  log?: (line: string) => void;
  /**
   * The scaler unreachable from GitHub (the Service answers 502; the replicas keep running and reach GitHub) for
   * `downMs` from just before the burst: every queued delivery fails, and only the redelivery sweep (or the
   * queued-job audit) brings the jobs back.
   */
  outage?: { downMs: number };
  /**
   * The apiserver cut off from every replica (a TCP proxy between them stops forwarding: requests hang, nothing
   * fails fast) for `downMs`, starting `atMs` after the burst began.
   */
  apiserverCut?: { atMs: number; downMs: number };
  /** Two replicas for the whole run, instead of one with a second joining for a while. */
  twoReplicas?: boolean;
  /** Recovery timings instead of the chaos defaults (sweep every 1 s, audit every 3 s). */
  recovery?: { redeliveryMs: number; auditMs: number; redeliveryLookbackMs: number };
}

export interface ChaosReport {
  jobs: number;
  /** Jobs that never ran. */
  lost: number;
  /** Jobs that got a second runner (ran twice). */
  duplicates: number;
  /** Runner registrations beyond one per job: capacity no job needed in the end (see runChaos). */
  extraRunners: number;
  /** Most released runner Pods at once beyond maxRunners. */
  overCap: number;
  /** Pods, Secrets and registered runners left at the end. */
  leaked: number;
  convergeS: number;
  githubCallsPerJob: number;
  /** Jobs that ran more than once (must be 0: GitHub runs a job once). */
  ranTwice: number;
  kills: number;
  droppedEvents: number;
  redeliveries: number;
  /** With an outage or a cut: seconds from its end until every job had started on a runner. */
  recoveredS?: number;
  /** Jobs whose queued delivery was answered 2xx and that never ran (must be 0: 2xx means stored). */
  ackedThenLost: number;
  /** Most replicas leading at once, from their "started/stopped leading" logs (must be ≤ 1). */
  maxLeaders: number;
}

/** Deterministic pseudo-random numbers, so a failing run can be replayed with its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Service in front of the replicas: round robin over the live ones; 502 when none answers. */
async function startBalancer(
  targets: () => number[],
  down: () => boolean,
): Promise<{ server: Server; url: string }> {
  let next = 0;
  const server = createServer((incoming, outgoing) => {
    if (down()) {
      incoming.resume();
      outgoing.writeHead(502).end("no route to the scaler");
      return;
    }
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const body = Buffer.concat(chunks);
      const ports = targets();
      const attempt = (tries: number) => {
        if (tries >= ports.length) {
          outgoing.writeHead(502).end("no replica answered");
          return;
        }
        const port = ports[(next++ + tries) % ports.length]!;
        const forward = request(
          { host: "127.0.0.1", port, path: incoming.url, method: incoming.method, headers: incoming.headers },
          (response) => {
            outgoing.writeHead(response.statusCode ?? 502, response.headers);
            response.pipe(outgoing);
          },
        );
        forward.on("error", () => attempt(tries + 1));
        forward.end(body);
      };
      attempt(0);
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Replica {
  name: string;
  port: number;
  process: ChildProcess;
  ready: Promise<void>;
}

export async function runChaos(env: TestEnv, options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const rand = random(options.seed ?? 20261122);
  const ns = await createTestNamespace(env, "chaos", { podSecurity: "privileged" });
  const core = ns.kc.makeApiClient(CoreV1Api);
  const github: GitHubStandIn = await startGitHubStandIn({
    target: { kind: "org", org: "octo-org" },
    token: "ghp_chaos",
  });
  const repo = "octo-org/chaos";
  github.addRepo(repo);
  const dir = await mkdtemp(join(tmpdir(), "dind-k8s-chaos-"));
  const replicas = new Map<string, Replica>();
  let balancer: { server: Server; url: string } | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const cleanups: (() => Promise<void>)[] = [];

  try {
    const tuning = {
      reconciler: {
        resyncMs: 250,
        idleGraceMs: 1_500,
        orphanSweepMs: 2_000,
        tombstoneTtlMs: 6_000,
        pendingDeadlineMs: 60_000,
        releaseConcurrency: 16,
      },
      recovery: {
        redeliveryMs: 1_000,
        auditMs: 3_000,
        auditGraceMs: 2_000,
        redeliveryLookbackMs: 6_000,
        ...options.recovery,
      },
      lease: { leaseDurationMs: 2_000, retryPeriodMs: 250, renewDeadlineMs: 1_500 },
    };
    const files = await writeServeFiles(env, {
      namespace: ns.name,
      dir,
      sets: realNodesRunnerSetYaml("dind-k8s", options.maxRunners),
      token: "ghp_chaos",
      secrets: ["chaos-secret"],
      githubApiUrl: github.url,
      tuning,
    });

    let proxy: CuttableProxy | undefined;
    if (options.apiserverCut) {
      const kubeconfig = await readFile(files.kubeconfigPath, "utf8");
      // exportConfig() writes JSON; a hand-written kubeconfig would be YAML: either way "server": the URL.
      const server = /"?server"?:\s*"?(https:\/\/[^\s"]+)/.exec(kubeconfig)?.[1];
      if (!server) throw new Error("chaos: no server in the scaler's kubeconfig");
      const url = new URL(server);
      proxy = await startCuttableProxy({ host: url.hostname, port: Number(url.port) });
      cleanups.push(() => proxy!.close());
      url.port = String(proxy.port);
      await writeFile(files.kubeconfigPath, kubeconfig.replace(server, url.origin));
    }

    // Leadership as the replicas log it, to count leaders at once.
    const leadership: { at: number; replica: string; leading: boolean }[] = [];
    const chaosLog = process.env.DIND_K8S_CHAOS_LOG
      ? openSync(process.env.DIND_K8S_CHAOS_LOG, "a")
      : undefined;
    let nextPort = 0;
    const basePort = 20_000 + Math.floor(rand() * 20_000);
    const startReplica = (name: string): Replica => {
      const port = basePort + nextPort++;
      const child = spawn(
        process.execPath,
        [
          join(import.meta.dirname, "../../src/cli.ts"),
          // info: the leadership lines are counted.
          ...serveArgs(files, { port, logLevel: "info" }),
        ],
        {
          env: process.env,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let buffered = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        // DIND_K8S_CHAOS_LOG=FILE: the replicas' JSON logs, for finding out why a run went wrong.
        if (chaosLog !== undefined) writeSync(chaosLog, chunk);
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          if (line.includes('"message":"started leading"'))
            leadership.push({ at: Date.now(), replica: name, leading: true });
          else if (line.includes('"message":"stopped leading"'))
            leadership.push({ at: Date.now(), replica: name, leading: false });
        }
      });
      // A replica that dies leads no more.
      child.once("exit", () => leadership.push({ at: Date.now(), replica: name, leading: false }));
      const ready = (async () => {
        for (let i = 0; i < 200; i++) {
          if (child.exitCode !== null) return;
          const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
            (response) => response.ok,
            () => false,
          );
          if (ok) return;
          await sleep(50);
        }
      })();
      const replica = { name, port, process: child, ready };
      replicas.set(name, replica);
      child.on("exit", () => {
        if (replicas.get(name) === replica) replicas.delete(name);
      });
      return replica;
    };
    const livePorts = () =>
      [...replicas.values()].filter((r) => r.process.exitCode === null).map((r) => r.port);

    await startReplica("a").ready;
    if (options.twoReplicas) await startReplica("b").ready;
    let down = false;
    balancer = await startBalancer(livePorts, () => down);
    github.setHook({ url: `${balancer.url}/webhook`, secret: "chaos-secret" });

    // --- GitHub's side: deliver an event twice, maybe dropped, maybe late.
    let droppedEvents = 0;
    const acked = new Set<number>();
    const pendingDeliveries = new Set<Promise<unknown>>();
    const emit = (action: "queued" | "in_progress" | "completed", job: StandInJob, runnerName?: string) => {
      const payload = workflowJobPayload({
        action,
        jobId: job.id,
        runId: job.runId,
        labels: job.labels,
        repository: repo,
        runnerName: runnerName ?? null,
      });
      const drop = rand() < options.dropRate;
      const delay = rand() < options.reorderRate ? 300 + rand() * 1_500 : 0;
      if (drop) droppedEvents++;
      for (let copy = 0; copy < 2; copy++) {
        const send = async () => {
          await sleep(delay + copy * rand() * 50);
          const result = await github
            .deliver("workflow_job", payload, drop ? { drop: true } : {})
            .catch(() => undefined);
          if (action === "queued" && result && result.statusCode >= 200 && result.statusCode < 300)
            acked.add(job.id);
        };
        const promise = send();
        pendingDeliveries.add(promise);
        void promise.finally(() => pendingDeliveries.delete(promise));
      }
    };

    // --- The outage, from just before the burst.
    let upAt: number | undefined;
    if (options.outage) {
      down = true;
      const up = setTimeout(() => {
        down = false;
        upAt = Date.now();
        log("chaos: the scaler is reachable again");
      }, options.outage.downMs);
      timers.add(up);
    }

    // --- The apiserver cut, mid-burst.
    if (options.apiserverCut && proxy) {
      const { atMs, downMs } = options.apiserverCut;
      const cutProxy = proxy;
      timers.add(
        setTimeout(() => {
          cutProxy.cut();
          log("chaos: apiserver cut off from the scaler");
        }, atMs),
      );
      timers.add(
        setTimeout(() => {
          cutProxy.heal();
          upAt = Date.now();
          log("chaos: apiserver reachable again");
        }, atMs + downMs),
      );
    }

    // --- The burst.
    const started = Date.now();
    const jobs: StandInJob[] = [];
    for (let i = 0; i < options.jobs; i++) {
      const job = github.addQueuedJob({ labels: ["self-hosted", "dind-k8s"], repo });
      jobs.push(job);
      emit("queued", job);
    }
    log(`chaos: ${options.jobs} jobs queued`);

    // --- Kills: spread over the expected run; once, a second replica runs alongside for a while.
    const expectedMs = Math.max(4_000, (options.jobs / options.maxRunners) * (options.jobMs + 600));
    let kills = 0;
    for (let k = 0; k < options.kills; k++) {
      const timer = setTimeout(
        () => {
          const victim = [...replicas.values()][0];
          if (!victim) return;
          victim.process.kill("SIGKILL");
          kills++;
          log(`chaos: kill -9 replica ${victim.name}`);
          const restart = setTimeout(() => startReplica(`${victim.name}${k}`), 700);
          timers.add(restart);
        },
        ((k + 1) * expectedMs) / (options.kills + 1),
      );
      timers.add(timer);
    }
    if (!options.twoReplicas) {
      const second = setTimeout(() => {
        log("chaos: second replica joins");
        const b = startReplica("b");
        const leave = setTimeout(() => {
          log("chaos: second replica leaves (SIGTERM)");
          b.process.kill("SIGTERM");
        }, expectedMs / 2);
        timers.add(leave);
      }, expectedMs / 4);
      timers.add(second);
    }

    // --- The runners and GitHub's job assignment, until everything has run and is gone.
    const online = new Set<string>();
    const runningJob = new Map<string, { job: StandInJob; endsAt: number }>();
    const startCount = new Map<number, number>();
    let maxReleased = 0;
    let convergedAt: number | undefined;
    let allStartedAt: number | undefined;
    while (Date.now() - started < options.timeoutMs) {
      if (allStartedAt === undefined && startCount.size === options.jobs) allStartedAt = Date.now();
      const pods: V1Pod[] = (await core.listNamespacedPod({ namespace: ns.name })).items;
      const live = pods.filter(
        (pod) =>
          (pod.spec?.schedulingGates ?? []).length === 0 &&
          !pod.metadata?.deletionTimestamp &&
          pod.status?.phase !== "Succeeded" &&
          pod.status?.phase !== "Failed",
      );
      maxReleased = Math.max(maxReleased, live.length);

      // The runner comes online once kwok runs its Pod.
      for (const pod of live) {
        const name = pod.metadata!.name!;
        // By uid: a replacement Pod has its predecessor's name, and its runner comes online anew.
        const uid = pod.metadata!.uid!;
        if (pod.status?.phase === "Running" && !online.has(uid)) {
          online.add(uid);
          // Its registration may already be gone (deregistered as surplus, or replaced after an interrupted
          // release): that runner can't connect, as a real one couldn't.
          try {
            github.setRunnerStatus(name, "online");
          } catch {
            // not registered: stays offline
          }
        }
      }
      // GitHub: give queued jobs to idle online runners.
      const idle = github.runners().filter((runner) => runner.status === "online" && !runner.busy);
      for (const job of github.jobs().filter((candidate) => candidate.status === "queued")) {
        const runner = idle.shift();
        if (!runner) break;
        github.startJob(job.id, runner.name);
        startCount.set(job.id, (startCount.get(job.id) ?? 0) + 1);
        runningJob.set(runner.name, { job, endsAt: Date.now() + options.jobMs });
        emit("in_progress", job, runner.name);
      }
      // Jobs end; the ephemeral runner exits and GitHub deregisters it.
      for (const [runnerName, { job, endsAt }] of runningJob) {
        if (Date.now() < endsAt) continue;
        runningJob.delete(runnerName);
        github.completeJob(job.id);
        emit("completed", job, runnerName);
        // Its Pod may be gone already (deleted as surplus or replaced): then there is nothing to end.
        await endRunner(ns.kc, ns.name, runnerName).catch(() => undefined);
      }

      const allDone = github.jobs().every((job) => job.status === "completed");
      if (allDone && pendingDeliveries.size === 0) {
        const secrets = (await core.listNamespacedSecret({ namespace: ns.name })).items.length;
        const left = (await core.listNamespacedPod({ namespace: ns.name })).items.length;
        if (left === 0 && secrets === 0 && github.runners().length === 0) {
          convergedAt = Date.now();
          break;
        }
      }
      await sleep(100);
    }

    const leftPods = (await core.listNamespacedPod({ namespace: ns.name })).items.length;
    const leftSecrets = (await core.listNamespacedSecret({ namespace: ns.name })).items.length;
    // A job can't have two runners at once: runner names are its Pod's name (deterministic) and GitHub refuses
    // a second registration of a taken name. So a duplicate is a job that ran twice. Registrations beyond one
    // per job are reported as extra runners: replacements of releases a kill -9 interrupted, warm runners made
    // while busy runners looked idle (their in_progress dropped), Pods of jobs a late event revived.
    const names = github.registeredNames();
    const again = names.filter((name, index) => names.indexOf(name) !== index);
    if (again.length > 0) log(`chaos: registered again: ${again.slice(0, 10).join(" ")}`);
    const never = jobs.filter((job) => !startCount.has(job.id)).map((job) => job.id);
    if (never.length > 0) log(`chaos: never started: ${never.slice(0, 20).join(" ")}`);
    const report: ChaosReport = {
      jobs: options.jobs,
      lost: jobs.filter((job) => !startCount.has(job.id)).length,
      duplicates: [...startCount.values()].filter((count) => count > 1).length,
      extraRunners: Math.max(0, names.length - options.jobs),
      overCap: Math.max(0, maxReleased - options.maxRunners),
      leaked: leftPods + leftSecrets + github.runners().length,
      convergeS: ((convergedAt ?? Date.now()) - started) / 1000,
      githubCallsPerJob: github.calls() / options.jobs,
      ranTwice: [...startCount.values()].filter((count) => count > 1).length,
      kills,
      droppedEvents,
      redeliveries: github.deliveries().filter((delivery) => delivery.redelivery).length,
      ackedThenLost: [...acked].filter((id) => !startCount.has(id)).length,
      maxLeaders: maxConcurrent(leadership),
      ...(options.outage || options.apiserverCut
        ? {
            recoveredS:
              allStartedAt === undefined || upAt === undefined
                ? Number.POSITIVE_INFINITY
                : (allStartedAt - upAt) / 1000,
          }
        : {}),
    };
    if (github.violations.length > 0) {
      throw new Error(
        `the GitHub stand-in saw requests that break GitHub's API: ${JSON.stringify(github.violations.slice(0, 3))}`,
      );
    }
    return report;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    for (const replica of replicas.values()) replica.process.kill("SIGKILL");
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    balancer?.server.close();
    await github.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The most replicas leading at the same time, from leadership changes in the order they happened. */
function maxConcurrent(changes: { at: number; replica: string; leading: boolean }[]): number {
  const leading = new Set<string>();
  let most = 0;
  for (const change of [...changes].sort((a, b) => a.at - b.at)) {
    if (change.leading) leading.add(change.replica);
    else leading.delete(change.replica);
    most = Math.max(most, leading.size);
  }
  return most;
}

export function chaosLine(report: ChaosReport): string {
  return `chaos: jobs=${report.jobs} lost=${report.lost} duplicates=${report.duplicates} over_cap=${report.overCap} leaked=${report.leaked} converge_s=${report.convergeS.toFixed(1)} github_calls_per_job=${report.githubCallsPerJob.toFixed(2)} extra_runners=${report.extraRunners}`;
}
