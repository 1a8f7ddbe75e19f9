// The one description of the configuration file. The validator (config.ts) and the chart's values.schema.json
// (scripts/gen-schema.ts) are both generated from it, so they cannot drift apart.
// Size: the configuration file's whole shape, read top to bottom as the file is written; its parts are small and
// only mean something together (every set option next to the others).
import { z } from "zod";
import { capacityKeys } from "./capacity.ts";
import {
  DEFAULT_DIND_IMAGE,
  DEFAULT_DOCKER_SIZE_LIMIT,
  DEFAULT_LOOP_DISK_SIZE,
  DEFAULT_QUEUED_PER_RUNNER,
  DEFAULT_RUNNER_DOCKER_GID,
  DEFAULT_RUNNER_IMAGE,
  DEFAULT_RUNNER_UID,
  describeDefaultResources,
} from "./defaults.ts";
import { podTemplateSchema } from "./pod-template.ts";
import {
  absolutePath,
  annotationMap,
  dnsLabel,
  dnsSubdomain,
  envVarName,
  httpUrl,
  image,
  labelMap,
  list,
  matching,
  oneOf,
  quantity,
  strictObject,
  text,
  wholeNumber,
} from "./primitives.ts";

/** Runner set names become Pod name prefixes: 40 leaves room for `-<job id>-<attempt>` within 63. */
export const RUNNER_SET_NAME_MAX = 40;

const githubAuth = strictObject({
  appId: wholeNumber(1).optional().describe("GitHub App id (App authentication)."),
  installationId: wholeNumber(1)
    .optional()
    .describe("Installation id of the App; looked up from the org or repo when omitted."),
  privateKeyFile: absolutePath().optional().describe("File holding the App's PEM private key."),
  privateKeyEnv: envVarName().optional().describe("Environment variable holding the App's PEM private key."),
  tokenFile: absolutePath()
    .optional()
    .describe("File holding a personal access token (instead of an App). Needs admin:org or repo scope."),
  tokenEnv: envVarName().optional().describe("Environment variable holding a personal access token."),
})
  // The same rules config/rules.ts checks, for Helm: JSON Schema can say them, zod's shape can't.
  .meta({
    oneOf: [
      {
        required: ["appId"],
        oneOf: [{ required: ["privateKeyFile"] }, { required: ["privateKeyEnv"] }],
        not: { anyOf: [{ required: ["tokenFile"] }, { required: ["tokenEnv"] }] },
      },
      {
        oneOf: [{ required: ["tokenFile"] }, { required: ["tokenEnv"] }],
        not: {
          anyOf: [
            { required: ["appId"] },
            { required: ["installationId"] },
            { required: ["privateKeyFile"] },
            { required: ["privateKeyEnv"] },
          ],
        },
      },
    ],
  })
  .describe(
    "How the scaler authenticates to GitHub: appId + privateKeyFile|privateKeyEnv, or tokenFile|tokenEnv. Secrets are read from files or the environment, never written here.",
  );

const github = strictObject({
  url: httpUrl()
    .default("https://github.com")
    .describe("https://github.com, or the URL of a GitHub Enterprise Server (GHES)."),
  apiUrl: httpUrl()
    .optional()
    .describe(
      "REST API base URL, when it is not the one url implies (https://api.github.com, <url>/api/v3 on GHES): e.g. an API proxy. https only (plain http only to a loopback address).",
    ),
  org: matching(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/, "a GitHub organization name")
    .optional()
    .describe("Organization whose runners these are (set org or repo, not both)."),
  repo: matching(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/, "owner/name of a repository")
    .optional()
    .describe("owner/name of the one repository whose runners these are (set org or repo, not both)."),
  runnerGroup: text()
    .optional()
    .describe("Runner group the runners join (organization runners only); the default group when omitted."),
  auth: githubAuth,
  webhookSecretFile: absolutePath()
    .optional()
    .describe(
      "File holding the webhook secret. Required unless intake is poll; with poll and no secret, POST /webhook is refused (404).",
    ),
  webhookSecretEnv: envVarName()
    .optional()
    .describe("Environment variable holding the webhook secret (instead of webhookSecretFile)."),
  hookId: wholeNumber(1)
    .optional()
    .describe(
      "Id of the org or repo webhook (in its settings URL, …/hooks/<id>). Required with a token: the redelivery sweep lists that hook's failed deliveries. A GitHub App uses its own hook and needs none.",
    ),
  intake: oneOf(["webhook", "poll", "both"])
    .default("webhook")
    .describe(
      "How jobs reach the scaler. webhook: GitHub POSTs each workflow_job event to the scaler (a public host name and a certificate). poll: no inbound traffic — the leader reads the hook's delivery log (GET …/hook/deliveries, every delivery GitHub attempted, failed ones included) every pollInterval and takes each workflow_job body from it; the webhook URL may point anywhere. both: webhooks, and the poll takes what they missed. Either way one intake: the same routing, gated Pod and idempotency by job id.",
    ),
  pollInterval: wholeNumber(1, 300)
    .default(5)
    .describe(
      "Seconds between two reads of the delivery log (intake poll or both). Each read is one GitHub call (100 deliveries a page), each job's needed event one more: see the README for the jobs per hour an App's rate limit allows at an interval. Slower on its own while the rate-limit budget is low.",
    ),
})
  .meta({
    allOf: [
      { oneOf: [{ required: ["org"] }, { required: ["repo"] }] },
      {
        if: { required: ["intake"], properties: { intake: { const: "poll" } } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, a plain object never awaited
        then: { not: { required: ["webhookSecretFile", "webhookSecretEnv"] } },
        else: { oneOf: [{ required: ["webhookSecretFile"] }, { required: ["webhookSecretEnv"] }] },
      },
      // A token's redelivery sweep reads the deliveries of one webhook: its id is required (rules.ts says why).
      {
        if: {
          required: ["auth"],
          properties: { auth: { anyOf: [{ required: ["tokenFile"] }, { required: ["tokenEnv"] }] } },
        },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, a plain object never awaited
        then: { required: ["hookId"] },
      },
    ],
  })
  .describe("Where the runners register and how the scaler talks to GitHub.");

const kubernetes = strictObject({
  namespace: dnsLabel().describe("Namespace the runner Pods and their Secrets are created in."),
  sidecars: oneOf(["auto", "native", "legacy"])
    .default("auto")
    .describe(
      "native: dind is a native sidecar (init container with restartPolicy Always, Kubernetes ≥ 1.29). legacy: dind is a plain container that stops when the runner exits. auto: native when the apiserver is ≥ 1.29.",
    ),
}).describe("The cluster side.");

const resources = strictObject({
  requests: z.record(z.string(), quantity()).optional(),
  limits: z.record(z.string(), quantity()).optional(),
}).describe(
  `Container resources, as in a Pod spec (cpu, memory, ephemeral-storage …). Each resource name the set doesn't give gets dind-k8s's default: ${describeDefaultResources()}.`,
);

const envVar = strictObject({ name: envVarName(), value: z.string() });

const runner = strictObject({
  image: image().default(DEFAULT_RUNNER_IMAGE).describe("The actions/runner image (or one built from it)."),
  imagePullPolicy: oneOf(["Always", "IfNotPresent", "Never"]).optional(),
  resources: resources.optional(),
  env: list(envVar, "a list of {name, value}")
    .optional()
    .describe("Extra environment for the runner container."),
  dockerGid: wholeNumber(0)
    .default(DEFAULT_RUNNER_DOCKER_GID)
    .describe(
      "Group id of the docker group in the runner image; dockerd gives its socket to this group (123 in ghcr.io/actions/actions-runner).",
    ),
  uid: wholeNumber(1)
    .default(DEFAULT_RUNNER_UID)
    .describe(
      "User id the runner and init-externals run as (runAsNonRoot needs a number; 1001 is the runner user of ghcr.io/actions/actions-runner).",
    ),
  sudo: z
    .boolean()
    .default(false)
    .describe(
      "Let jobs use sudo in the runner container: allows privilege escalation (sudo is setuid root) and keeps the runtime's default capabilities. Off: no privilege escalation, every capability dropped, and sudo fails.",
    ),
})
  .prefault({})
  .describe("The runner container.");

const dind = strictObject({
  image: image()
    .optional()
    .describe(
      `The Docker-in-Docker image; ${DEFAULT_DIND_IMAGE} (or its -dind-rootless variant for rootless).`,
    ),
  imagePullPolicy: oneOf(["Always", "IfNotPresent", "Never"]).optional(),
  resources: resources.optional(),
  args: list(z.string(), "a list of dockerd arguments")
    .default([])
    .describe(
      "Extra dockerd arguments, appended after the ones dind-k8s sets. -H/--host and --config-file are refused: the daemon listens on the Pod's unix socket only.",
    ),
  mtu: z
    .union([z.literal("auto"), wholeNumber(68, 65535)], {
      error: (issue) =>
        issue.input === undefined ? undefined : `expected "auto" or a whole number from 68 to 65535`,
    })
    .default("auto")
    .describe(
      "MTU for the daemon's bridge and its user-defined networks. auto: the Pod's eth0 MTU, read when dind starts.",
    ),
  registryMirrors: list(httpUrl(), "a list of registry mirror URLs")
    .default([])
    .describe(
      "Docker Hub pull-through mirrors, passed as dockerd --registry-mirror. docker build (BuildKit inside dockerd) uses them too; a buildx docker-container builder has its own buildkitd and needs them in its buildkitd.toml.",
    ),
})
  .prefault({})
  .describe("The dind sidecar.");

const storage = z
  .discriminatedUnion(
    "type",
    [
      strictObject({
        type: z.literal("emptyDir"),
        sizeLimit: quantity()
          .optional()
          .describe(
            `Evict the Pod when /var/lib/docker grows past this. Default ${DEFAULT_DOCKER_SIZE_LIMIT}.`,
          ),
      }),
      strictObject({
        type: z.literal("memory"),
        sizeLimit: quantity().describe("tmpfs size; added to the dind container's memory request and limit."),
      }),
      strictObject({
        type: z.literal("ephemeralVolume"),
        storageClassName: dnsSubdomain().optional(),
        size: quantity().describe("Size of the generic ephemeral PersistentVolumeClaim."),
      }),
      strictObject({
        type: z.literal("loopDisk"),
        size: quantity()
          .default(DEFAULT_LOOP_DISK_SIZE)
          .describe("Size of the sparse ext4 image mounted at /var/lib/docker before dockerd starts."),
      }),
    ],
    {
      error: (issue) =>
        issue.code === "invalid_union"
          ? `expected one of "emptyDir", "memory", "ephemeralVolume", "loopDisk"`
          : undefined,
    },
  )
  .describe(
    "Where /var/lib/docker lives. Default emptyDir; loopDisk under kata (virtio-fs can't be an overlay upper layer).",
  );

const cache = strictObject({
  volumes: wholeNumber(1, 100).describe(
    "How many PersistentVolumeClaims the set keeps. Each is used by one runner Pod at a time (ReadWriteOncePod); a Pod released while all are in use gets the set's own storage instead.",
  ),
  size: quantity().describe("Size of each claim."),
  storageClassName: dnsSubdomain()
    .optional()
    .describe(
      "StorageClass of the claims; the cluster's default when omitted. It must support ReadWriteOncePod (CSI drivers do).",
    ),
  scope: oneOf(["repository", "runnerSet"])
    .default("repository")
    .describe(
      "repository: a claim holds the images and build cache of one repository's jobs; a claim last used for another repository is emptied before use, and warm runners (whose repository is unknown) use the set's own storage. runnerSet: any job of the set gets any claim as it is — one repository's job can then leave images (a retagged base image) that another's builds on: for trusted code only.",
    ),
  pruneAbove: quantity()
    .optional()
    .describe(
      "Watermark: a runner Pod that finds more than this on its claim prunes unused images, containers, volumes and build cache before its daemon starts. Default: 80% of size.",
    ),
}).describe(
  "A pool of volumes that keep /var/lib/docker (pulled images, build cache) from one job to the next. Never shared: a claim is leased to one Pod and is free again only when that Pod is gone.",
);

const runtime = strictObject({
  profile: oneOf(["privileged", "kata", "sysbox", "rootless"])
    .default("privileged")
    .describe(
      "privileged: privileged dind. kata: dind inside a Kata VM (runtimeClassName). sysbox: runtimeClassName sysbox-runc, hostUsers false, not privileged. rootless: the dind-rootless image.",
    ),
  runtimeClassName: dnsSubdomain()
    .optional()
    .describe("RuntimeClass of the Pod; defaults to kata / sysbox-runc for those profiles."),
})
  .prefault({})
  .describe("How the daemon is isolated.");

const toleration = strictObject({
  key: z.string().optional(),
  operator: oneOf(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: oneOf(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.int().optional(),
});

// Affinity terms are deep Kubernetes structures that are copied verbatim into the Pod; the apiserver validates
// them (strict field validation) when the scaler creates the Pod, so only the top level is checked here.
const affinityTerms = z.record(z.string(), z.unknown(), { error: "expected a mapping" });
const affinity = strictObject({
  nodeAffinity: affinityTerms.optional(),
  podAffinity: affinityTerms.optional(),
  podAntiAffinity: affinityTerms.optional(),
});

export const runnerSetSchema = strictObject({
  name: dnsLabel(RUNNER_SET_NAME_MAX).describe("Name of the set; prefixes its Pod names."),
  labels: list(text("a label"), "a list of runner labels")
    .min(1, { error: "expected at least one label" })
    .describe("Runner labels; a job whose runs-on labels are all in this list goes to this set."),
  maxRunners: wholeNumber(0).describe("At most this many runner Pods of the set at once."),
  minIdle: wholeNumber(0).describe("Keep this many idle (warm) runners registered."),
  maxQueued: wholeNumber(0)
    .optional()
    .describe(
      `At most this many queued (scheduling-gated) job Pods of the set; a queued job past it is answered 503, GitHub records the delivery as failed and the redelivery sweep brings it back. Default ${DEFAULT_QUEUED_PER_RUNNER} × maxRunners (the highest of maxRunners and the schedule windows' maxRunners).`,
    ),
  ...capacityKeys,
  runnerGroup: text().optional().describe("Runner group of this set; overrides github.runnerGroup."),
  runner,
  dind,
  storage: storage.optional(),
  cache: cache.optional(),
  runtime,
  nodeSelector: labelMap().optional(),
  tolerations: list(toleration, "a list of tolerations").optional(),
  affinity: affinity.optional(),
  podLabels: labelMap().optional().describe("Extra labels on the runner Pods."),
  podAnnotations: annotationMap().optional().describe("Extra annotations on the runner Pods."),
  priorityClassName: dnsSubdomain().optional(),
  serviceAccountName: dnsSubdomain()
    .optional()
    .describe("ServiceAccount of the runner Pods; its token is never mounted."),
  imagePullSecrets: list(dnsSubdomain(), "a list of Secret names").optional(),
  template: podTemplateSchema.optional(),
});

const positive = (what: string) => wholeNumber(1).optional().describe(what);

/**
 * Timings of the control loop. The defaults (reconcile/, kube/leader-election) are what a cluster wants; tests and
 * benchmarks set faster ones here. Not in the chart's values.
 */
const tuning = strictObject({
  reconciler: strictObject({
    resyncMs: positive("A full reconcile pass at least this often."),
    debounceMs: positive("Pod events closer than this are handled in one pass."),
    planShareFactor: positive("An event waits at least this many times the last planning's duration."),
    pendingDeadlineMs: positive("Released Pods not Running after this long are replaced."),
    tombstoneTtlMs: positive("How long a completed job's gated tombstone Pod is kept."),
    idleGraceMs: positive("How long an idle runner is kept before it may be removed."),
    orphanSweepMs: positive("How often registered runners are checked for ones without a Pod."),
    backoffMs: positive("First back-off after a stuck Pod; doubles up to maxBackoffMs."),
    maxBackoffMs: positive("Longest back-off."),
    releaseConcurrency: positive("GitHub calls in flight at once while releasing."),
    cacheLeaseGraceMs: positive("A cache claim leased for an unfinished release is freed after this long."),
  }).optional(),
  recovery: strictObject({
    redeliveryMs: positive(
      "How often failed webhook deliveries are looked for (default 2 min): one listing call a sweep, 30 an hour, and a delivery that fails while the scaler is up waits at most this long. Recovery after an outage doesn't wait for it: a probe every 10 s (the outage bench: 200 jobs started 26.5–43.1 s after a 120 s outage).",
    ),
    redeliveryLookbackMs: positive("How far back a redelivery sweep looks."),
    auditMs: positive(
      "How often the queued-job audit runs (default 10 min): it finds jobs none of whose deliveries reached the scaler, which no redelivery brings back, at a listing of recent runs per repository a pass — so less often than the sweep.",
    ),
    auditGraceMs: positive("Gated job Pods younger than this are left to their webhooks."),
    auditJobLookups: positive("At most this many single-job look-ups per audit pass."),
  }).optional(),
  secrets: strictObject({
    reloadMs: positive("How often the webhook secret file is re-read (default 10 s)."),
  }).optional(),
  poll: strictObject({
    lowRemaining: positive(
      "Below this many GitHub requests left, the delivery poll slows down (default 500).",
    ),
    slowFactor: positive("How many times longer the poll's interval is then (default 6)."),
    lookbackMs: positive(
      "How far back the poll reads the delivery log without a recent cursor (default 1 h).",
    ),
  }).optional(),
  lease: strictObject({
    leaseDurationMs: positive("How long a Lease holder is leader without renewing."),
    retryPeriodMs: positive("How often a replica tries to take or renew the Lease."),
    renewDeadlineMs: positive("A leader that couldn't renew for this long steps down."),
  }).optional(),
}).describe(
  "Timings of the control loop, for tests and benchmarks; the defaults are what a cluster wants. Not in the chart's values.",
);

export const configSchema = strictObject({
  github,
  kubernetes,
  tuning: tuning.optional(),
  runnerSets: list(runnerSetSchema, "a list of runner sets")
    .min(1, { error: "expected at least one runner set" })
    .describe("Each set: a label set, its limits, and the shape of its runner Pods."),
}).describe("dind-k8s scaler configuration.");

export type Config = z.output<typeof configSchema>;
export type RunnerSet = z.output<typeof runnerSetSchema>;
export type Storage = NonNullable<RunnerSet["storage"]>;
export type CacheConfig = NonNullable<RunnerSet["cache"]>;
export type Resources = z.output<typeof resources>;

/** Whether the scaler takes webhooks: always, except with intake poll and no webhook secret set. */
export function acceptsWebhooks(config: {
  github: Pick<Config["github"], "intake" | "webhookSecretFile" | "webhookSecretEnv">;
}): boolean {
  const { intake, webhookSecretFile, webhookSecretEnv } = config.github;
  return intake !== "poll" || webhookSecretFile !== undefined || webhookSecretEnv !== undefined;
}

/** The most runners the set may run at any time: maxRunners, or a schedule window's higher one. */
export function peakRunnersOf(set: Pick<RunnerSet, "maxRunners" | "schedules">): number {
  return Math.max(set.maxRunners, ...(set.schedules ?? []).map((window) => window.maxRunners ?? 0));
}

/**
 * How many queued job Pods the set may have: `maxQueued`, or DEFAULT_QUEUED_PER_RUNNER per runner at the set's peak
 * (a window that allows 50 runners by day needs the backlog of 50 then, though nights allow 5).
 */
export function maxQueuedOf(set: Pick<RunnerSet, "maxQueued" | "maxRunners" | "schedules">): number {
  return set.maxQueued ?? DEFAULT_QUEUED_PER_RUNNER * peakRunnersOf(set);
}
