// github.intake poll: jobs from the hook's delivery log, with GitHub unable to reach the scaler. A real
// `dind-k8s serve` (the bundle) on the real apiserver and the GitHub stand-in at 100 ms per call; 500 queued jobs
// arrive at 10 a second, each delivery failing ("failed to connect") and recorded in the log.
//   pickup: the delivery recorded in the log → the gated Pod seen by a watch; target p99 ≤ interval + 1 s
//   github_calls_per_job: every call the scaler made from the first delivery until every job's runner was released
//   (the log's pages, the bodies, the JIT registrations); target ≤ 2.5
import { CoreV1Api, Watch } from "@kubernetes/client-node";
import type { TestEnv } from "../test/env/types.ts";
import { workflowJobPayload } from "../test/helpers/webhooks.ts";
import { atRate, fixed, percentile, startBenchScaler } from "./scaler.ts";

const JOBS = 500;
const INTERVAL_S = 2;
const ARRIVAL_MS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function benchPoll(env: TestEnv): Promise<string> {
  const scaler = await startBenchScaler(env, {
    maxRunners: JOBS,
    latencyMs: 100,
    prefix: "bench-poll",
    github: { intake: "poll", pollInterval: INTERVAL_S },
  });
  const seen = new Map<number, number>();
  let watching: { abort(): void } | undefined;
  try {
    // Nothing listens on port 9 of the loopback: every delivery fails to connect and is only in the log.
    scaler.github.setHook({ url: "http://127.0.0.1:9/webhook", secret: "unused" });
    watching = await new Watch(scaler.kc).watch(
      `/api/v1/namespaces/${scaler.ns}/pods`,
      { labelSelector: "dind-k8s.io/kind=job" },
      (type, pod: { metadata?: { labels?: Record<string, string> } }) => {
        const jobId = Number(pod.metadata?.labels?.["dind-k8s.io/job-id"]);
        if (type === "ADDED" && !seen.has(jobId)) seen.set(jobId, Date.now());
      },
      () => {},
    );
    const callsBefore = scaler.github.calls();
    const recorded = await atRate(JOBS, ARRIVAL_MS, async (i) => {
      const jobId = 7_000_000 + i;
      await scaler.github.deliver("workflow_job", workflowJobPayload({ action: "queued", jobId }));
      return { jobId, at: Date.now() };
    });
    const core = scaler.kc.makeApiClient(CoreV1Api);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const pods = (
        await core.listNamespacedPod({ namespace: scaler.ns, labelSelector: "dind-k8s.io/kind=job" })
      ).items;
      const released = pods.filter((pod) => !pod.spec?.schedulingGates?.length).length;
      if (seen.size >= JOBS && released >= JOBS) break;
      if (Date.now() > deadline) {
        throw new Error(
          `after 2 minutes ${seen.size} of ${JOBS} Pods seen, ${released} released; scaler errors:\n${scaler.errors.slice(0, 3).join("\n")}`,
        );
      }
      await sleep(500);
    }
    const pickups = recorded.map(({ jobId, at }) => (seen.get(jobId)! - at) / 1000);
    const perJob = (scaler.github.calls() - callsBefore) / JOBS;
    if (scaler.github.violations.length > 0)
      throw new Error("GitHub stand-in saw requests outside GitHub's API");
    const lists = scaler.github.calls("orgs/list-webhook-deliveries");
    const bodies = scaler.github.calls("orgs/get-webhook-delivery");
    return `poll: jobs=${JOBS} interval_s=${INTERVAL_S} p50_pickup_s=${fixed(percentile(pickups, 50))} p99_pickup_s=${fixed(percentile(pickups, 99))} github_calls_per_job=${fixed(perJob)} lists=${lists} bodies=${bodies}`;
  } finally {
    watching?.abort();
    await scaler.stop();
  }
}
