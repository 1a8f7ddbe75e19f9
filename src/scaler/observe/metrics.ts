// Prometheus metrics of the scaler. One registry per scaler instance (tests run several).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export function createMetrics({ processMetrics = true }: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  const prefix = "dind_k8s_";
  // process_* and nodejs_* (memory, CPU, event loop lag, GC): what an operator checks first.
  if (processMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    webhookDeliveries: new Counter({
      name: `${prefix}webhook_deliveries_total`,
      help: "Webhook deliveries by event (workflow_job, ping or other once the signature matched; unverified before) and outcome (recorded, duplicate, unauthorized, …).",
      labelNames: ["event", "outcome"] as const,
      registers: [registry],
    }),
    webhookSeconds: new Histogram({
      name: `${prefix}webhook_duration_seconds`,
      help: "Time the scaler spent on a webhook delivery, body received to answer (the Kubernetes write included), by event (workflow_job, ping, other, unverified) and outcome.",
      labelNames: ["event", "outcome"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    webhookSecretMatches: new Counter({
      name: `${prefix}webhook_secret_matches_total`,
      help: "Deliveries whose signature matched the first (current) or the second (previous) webhook secret: during a rotation, the old one can go once second stops growing.",
      labelNames: ["secret"] as const,
      registers: [registry],
    }),
    webhookForeign: new Counter({
      name: `${prefix}webhook_foreign_deliveries_total`,
      help: "Signed deliveries dropped because they belong to another account (owner) or App installation (installation), by reason.",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    httpConnectionsDropped: new Counter({
      name: `${prefix}http_connections_dropped_total`,
      help: "Connections closed at once because the server already had its maximum open.",
      registers: [registry],
    }),
    jobsQueued: new Counter({
      name: `${prefix}jobs_queued_total`,
      help: "Queued workflow jobs recorded as runner Pods, by runner set.",
      labelNames: ["runner_set"] as const,
      registers: [registry],
    }),
    jobsStarted: new Counter({
      name: `${prefix}jobs_started_total`,
      help: "Workflow jobs that started on a runner, by runner set.",
      labelNames: ["runner_set"] as const,
      registers: [registry],
    }),
    jobsCompleted: new Counter({
      name: `${prefix}jobs_completed_total`,
      help: "Workflow jobs that completed, by runner set and conclusion.",
      labelNames: ["runner_set", "conclusion"] as const,
      registers: [registry],
    }),
    runners: new Gauge({
      name: `${prefix}runners`,
      help: "Runner Pods by runner set and phase: queued (gated), tombstone, idle, busy, finished, terminating.",
      labelNames: ["runner_set", "phase"] as const,
      registers: [registry],
    }),
    runnersStale: new Gauge({
      name: `${prefix}runners_stale`,
      help: "Runner Pods made with another spec than their set produces now, by runner set and phase: queued ones are recreated before release, idle warm ones replaced, busy ones finish their job.",
      labelNames: ["runner_set", "phase"] as const,
      registers: [registry],
    }),
    scheduleWindowActive: new Gauge({
      name: `${prefix}schedule_window_active`,
      help: "1 while a runner set's schedule window applies (from its lead time before its start to its end), 0 otherwise, by runner set and window.",
      labelNames: ["runner_set", "window"] as const,
      registers: [registry],
    }),
    effectiveCapacity: new Gauge({
      name: `${prefix}runner_set_capacity`,
      help: "A runner set's minIdle and maxRunners as the reconciler uses them now (its schedule's open windows, else its plain values), by runner set and value.",
      labelNames: ["runner_set", "value"] as const,
      registers: [registry],
    }),
    scheduleLeadSeconds: new Gauge({
      name: `${prefix}schedule_lead_seconds`,
      help: "How long before a schedule window opens its values apply: scheduleLeadTime, or the runner start time measured (the longest of the last 10).",
      labelNames: ["runner_set"] as const,
      registers: [registry],
    }),
    jobStartupSeconds: new Histogram({
      name: `${prefix}job_startup_seconds`,
      help: "From the runner Pod's creation (job queued) to its gate being released.",
      labelNames: ["runner_set"] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
    podsReplaced: new Counter({
      name: `${prefix}pods_replaced_total`,
      help: "Runner Pods deleted and replaced because they stayed Pending past the deadline.",
      labelNames: ["runner_set", "reason"] as const,
      registers: [registry],
    }),
    githubReachable: new Gauge({
      name: `${prefix}github_reachable`,
      help: "1 when the last background probe of the GitHub API (every 30 s) got an answer, 0 when it failed. Not part of /readyz: intake needs no GitHub call.",
      registers: [registry],
    }),
    githubRateLimitRemaining: new Gauge({
      name: `${prefix}github_rate_limit_remaining`,
      help: "GitHub API requests left in the current rate-limit window, as of the last response.",
      registers: [registry],
    }),
    githubCalls: new Counter({
      name: `${prefix}github_calls_total`,
      help: "GitHub API operations made by the reconciler, by operation.",
      labelNames: ["operation"] as const,
      registers: [registry],
    }),
    pollDeliveries: new Counter({
      name: `${prefix}poll_deliveries_total`,
      help: "Entries of GitHub's delivery log the poll (github.intake poll or both) looked at, by what it did: taken (its body fetched and handed to intake), fetch-failed, retry (taken again after a 503), or why it was skipped without a call (other-event, other-action, delivered by the webhook, foreign installation, seen-guid, low-budget).",
      labelNames: ["decision"] as const,
      registers: [registry],
    }),
    pollSlowed: new Gauge({
      name: `${prefix}poll_slowed`,
      help: "1 while the delivery poll runs slower because the GitHub rate-limit budget is low (and fetches queued jobs only), else 0.",
      registers: [registry],
    }),
    pollLagSeconds: new Histogram({
      name: `${prefix}poll_lag_seconds`,
      help: "From GitHub recording a delivery to the poll handing it to intake.",
      buckets: [0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120, 300],
      registers: [registry],
    }),
    reconcilePassSeconds: new Histogram({
      name: `${prefix}reconcile_pass_seconds`,
      help: "Duration of one reconcile pass over every runner set, its Kubernetes and GitHub calls included.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    podCacheLists: new Counter({
      name: `${prefix}pod_cache_lists_total`,
      help: "Complete LISTs of the runner Pods by the scaler's cache: one at start, then one each time its watch could not resume from where it was (after an apiserver restart, or a resourceVersion compacted away). Climbing steadily: a relist storm.",
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: `${prefix}reconcile_errors_total`,
      help: "Errors of the reconcile loop, by step.",
      labelNames: ["step"] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
