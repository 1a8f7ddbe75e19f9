// Warm runners on a schedule, measured on the real apiserver, scheduler and kwok's Nodes: a runner set with one warm
// runner (minIdle 1, from which the scaler measures how long a runner takes to start) gets a window that raises
// minIdle to 4. With the lead time left to its default (the measured start), how many warm runners are Running
// the moment the window opens — against the same window with `scheduleLeadTime: 0s` (no pre-warming) in the same
// run, where the runners start only when it opens. The scaler runs in this process (startTestScaler).
import { CoreV1Api } from "@kubernetes/client-node";
import { createGitHubApi } from "../src/scaler/github/client.ts";
import { LABELS } from "../src/scaler/model/keys.ts";
import { nextActivations } from "../src/scaler/model/schedule.ts";
import type { TestEnv } from "../test/env/types.ts";
import { startGitHubStandIn } from "../test/helpers/github-standin.ts";
import { createTestNamespace } from "../test/helpers/kube.ts";
import { realNodesRunnerSetYaml, startTestScaler } from "../test/helpers/scaler.ts";

const MIN_IDLE = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

interface WindowRun {
  /** Warm runners Running at the window's start. */
  readyAtStart: number;
  /** Seconds from the window's start until MIN_IDLE warm runners ran (negative: before it). */
  readyS: number;
  /** The lead time the scaler used, from its metric. */
  leadS: number;
}

/**
 * A once-a-day window opening `inMs` from now (croner's seconds field, in UTC): no earlier activation of it can
 * leave warm runners behind, and its start is far enough that the scaler has measured a start before the lead.
 */
function windowOpeningIn(inMs: number) {
  const opens = new Date(Math.ceil((Date.now() + inMs) / 1000) * 1000);
  const cron = `${opens.getUTCSeconds()} ${opens.getUTCMinutes()} ${opens.getUTCHours()} * * *`;
  return { cron, duration: "30s", timeZone: "UTC", minIdle: MIN_IDLE, opens };
}

async function runWindow(env: TestEnv, lead: string | undefined): Promise<WindowRun> {
  // Until the scaler has measured a start, the lead is DEFAULT_LEAD_MS (60 s): the window must open after that.
  const window = windowOpeningIn(lead === undefined ? 75_000 : 20_000);
  const ns = await createTestNamespace(env, "bench-schedule", { podSecurity: "privileged" });
  const github = await startGitHubStandIn({ target: { kind: "org", org: "octo-org" }, token: "ghp_bench" });
  const scaler = await startTestScaler(env, {
    namespace: ns.name,
    github: createGitHubApi({
      apiUrl: github.url,
      target: { kind: "org", org: "octo-org" },
      auth: { kind: "token", token: "ghp_bench" },
      retryBaseMs: 10,
      hookId: 1,
      rateLimitBaseMs: 10,
    }),
    timing: { idleGraceMs: 500 },
    runnerSets: [
      realNodesRunnerSetYaml("dind-k8s", 10, 1),
      ...(lead === undefined ? [] : [`    scheduleLeadTime: ${lead}`]),
      `    schedules: [{ cron: "${window.cron}", duration: ${window.duration}, timeZone: ${window.timeZone}, minIdle: ${MIN_IDLE} }]`,
    ].join("\n"),
  });
  const core = ns.kc.makeApiClient(CoreV1Api);
  const warmRunning = async () =>
    (await core.listNamespacedPod({ namespace: ns.name, labelSelector: `${LABELS.kind}=warm` })).items.filter(
      (pod) => !pod.metadata?.deletionTimestamp && pod.status?.phase === "Running",
    ).length;
  try {
    // The plain warm runner starts (and is measured, from which the lead comes).
    for (let i = 0; (await warmRunning()) < 1; i++) {
      if (i > 600) throw new Error("the plain warm runner never ran");
      await sleep(50);
    }
    const startMs = window.opens.getTime();
    if (nextActivations(window, new Date(Date.now() - 1_000), 1)[0]?.getTime() !== startMs)
      throw new Error("the window's cron expression does not open when the bench meant it to");
    let readyAtStart = -1;
    let readyMs: number | undefined;
    while (Date.now() < startMs + 25_000) {
      const running = await warmRunning();
      const now = Date.now();
      if (readyAtStart < 0 && now >= startMs) readyAtStart = running;
      if (readyMs === undefined && running >= MIN_IDLE) readyMs = now;
      if (readyAtStart >= 0 && readyMs !== undefined) break;
      await sleep(25);
    }
    if (readyMs === undefined) throw new Error(`${MIN_IDLE} warm runners never ran in the window`);
    const metrics = await scaler.metrics.registry.getSingleMetricAsString("dind_k8s_schedule_lead_seconds");
    const leadS = Number(/^dind_k8s_schedule_lead_seconds\{[^}]*\} (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN);
    return { readyAtStart, readyS: (readyMs - startMs) / 1000, leadS };
  } finally {
    await scaler.stop();
    await github.close();
  }
}

export async function benchSchedule(env: TestEnv): Promise<string> {
  const measured = await runWindow(env, undefined);
  const none = await runWindow(env, "0s");
  const fixed = (n: number) => n.toFixed(2);
  return [
    `schedule: min_idle=${MIN_IDLE} ready_at_start=${measured.readyAtStart}/${MIN_IDLE} ready_s=${fixed(measured.readyS)}`,
    `lead_s=${fixed(measured.leadS)} no_lead_ready_at_start=${none.readyAtStart}/${MIN_IDLE} no_lead_ready_s=${fixed(none.readyS)}`,
  ].join(" ");
}
