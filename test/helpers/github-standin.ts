/**
 * A local GitHub for tests and benches: the REST endpoints the scaler calls, on node:http at 127.0.0.1:0, with
 * every request and response checked against GitHub's OpenAPI description (see github-standin/openapi.ts), and a
 * webhook sender that signs deliveries and keeps them for the redelivery API.
 *
 * Only what the scaler uses is implemented; any other call is recorded in `violations` and answered 404, so a test
 * that asserts `violations` is empty also proves the client calls nothing we have not modelled.
 *
 *   const github = await startGitHubStandIn({ token: "ghp_x" });          // org "acme"; or appPublicKeyPem for an App
 *   const api = createGitHubApi({ apiUrl: github.url, target: { kind: "org", org: "acme" }, auth: { kind: "token", token: "ghp_x" } });
 *   github.setHook({ url: scalerWebhookUrl, secret });
 *   const job = github.addQueuedJob({ labels: ["dind-k8s"] });           // visible to the queued-job audit
 *   await github.deliver("workflow_job", payload, { drop: true });        // only redelivery can recover it
 *   github.failNext("actions/generate-runner-jitconfig-for-org", 2, { status: 502 });
 *   github.startJob(job.id, runnerName); github.completeJob(job.id);      // runner busy, then deregistered
 *   expect(github.violations).toEqual([]); await github.close();
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhooks } from "@octokit/webhooks";
import type { GitHubTarget } from "../../src/scaler/github/client.ts";
import { appJwtProblem } from "./github-standin/jwt.ts";
import {
  checkRequest,
  checkResponse,
  complete,
  loadSpec,
  matchRoute,
  type Operation,
  responseSchema,
  type SpecName,
} from "./github-standin/openapi.ts";

export interface GitHubStandInOptions {
  latencyMs?: number;
  /** Default: org "acme". */
  target?: GitHubTarget;
  appId?: number;
  /** Enables GitHub App auth: App JWTs must verify with this key. */
  appPublicKeyPem?: string;
  installationId?: number;
  /** Lifetime of installation tokens. Default one hour, as on GitHub. */
  tokenTtlMs?: number;
  /** Enables token auth with this PAT. Without appPublicKeyPem and token, credentials are not checked. */
  token?: string;
  /** Id of the org/repo hook whose deliveries are listed. Default 1. */
  hookId?: number;
  /** Path the API is served under: "/api/v3" models GitHub Enterprise Server. Default "". */
  pathPrefix?: string;
  /** Which description requests are checked against. Default api.github.com. */
  spec?: SpecName;
  /** The server's clock runs this many seconds ahead (negative: behind) of the machine's: JWT checks and Date. */
  clockOffsetS?: number;
  /** Where `deliver` and redeliveries send webhooks, and with which secret (the hook's configuration). */
  hook?: { url: string; secret: string };
}

export type Failure =
  | { status: 500 | 502 | 503 | 504 }
  | { rateLimit: "primary" | "secondary"; status?: 403 | 429; retryAfterS?: number };

export interface Violation {
  operationId: string;
  method: string;
  path: string;
  problem: string;
}

export interface CallRecord {
  method: string;
  path: string;
  operationId: string;
  status: number;
  credential: "jwt" | "installation" | "token" | "none";
  /** The Authorization header's scheme, lower case ("bearer", "token"), or "" without one. */
  scheme: string;
  /** The Host header: which name the client reached us under. */
  host: string;
  /** When the request arrived (Date.now()), before the stand-in's latency. */
  receivedAt: number;
}

export interface StandInRunner {
  id: number;
  name: string;
  labels: string[];
  groupId: number;
  status: "online" | "offline";
  busy: boolean;
  workFolder: string;
}

export interface StandInJob {
  id: number;
  runId: number;
  runAttempt: number;
  repo: string;
  name: string;
  labels: string[];
  status: "queued" | "in_progress" | "completed";
  conclusion: string | null;
  runnerName: string | null;
  runnerId: number | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

export interface StandInDelivery {
  id: number;
  guid: string;
  event: string;
  action: string | null;
  deliveredAt: Date;
  /** HTTP status the receiver answered; 0 when the delivery was dropped or could not connect. */
  statusCode: number;
  redelivery: boolean;
  durationS: number;
  payload: string;
  to: string;
  secret: string;
  /** The headers of the POST as sent (signature included), as `GET …/deliveries/{id}` returns them. */
  requestHeaders: Record<string, string>;
  /** What the receiver answered (nothing when it could not be reached). */
  responseHeaders: Record<string, string>;
  responseBody: string | null;
}

export interface DeliverOptions {
  /** Default: the hook URL (options.hook / setHook). */
  to?: string;
  secret?: string;
  /** Record the delivery as failed without sending it: only the redelivery API can recover it. */
  drop?: boolean;
  /** Reuse a GUID (a duplicate delivery as GitHub can produce). */
  guid?: string;
}

export interface DeliveryResult {
  id: number;
  guid: string;
  statusCode: number;
  body: string;
}

export interface GitHubStandIn {
  /** The name of every runner registered through generate-jitconfig so far, once per registration. */
  registeredNames(): string[];
  /** Every registration through generate-jitconfig so far: the runner's id and name. */
  registrations(): { id: number; name: string; at: number }[];
  /** The API base URL the client is given (includes pathPrefix). */
  url: string;
  origin: string;
  violations: Violation[];
  callLog: CallRecord[];
  /** Requests so far, of one operation id (e.g. "actions/generate-runner-jitconfig-for-org") or all. */
  calls(operationId?: string): number;
  /** The most requests that were being answered at one time so far. */
  peakInFlight(): number;
  setLatency(ms: number): void;
  setTokenTtl(ms: number): void;
  /** Installation tokens handed out so far. */
  tokensIssued(): number;
  /** Revoke every installation token issued so far (they answer 401 from now on). */
  revokeTokens(): void;
  /** The next `count` calls of an operation id ("*" for any) fail this way. */
  failNext(operationId: string, count: number, failure: Failure): void;
  addRunnerGroup(name: string): number;
  addRepo(fullName: string): void;
  runners(): StandInRunner[];
  /** Register a runner directly (an orphan left by a crashed scaler, say). */
  addRunner(runner: {
    name: string;
    labels: string[];
    busy?: boolean;
    status?: "online" | "offline";
  }): StandInRunner;
  setRunnerBusy(idOrName: number | string, busy: boolean): void;
  setRunnerStatus(idOrName: number | string, status: "online" | "offline"): void;
  addQueuedJob(job: { labels: string[]; repo?: string; name?: string; runAttempt?: number }): StandInJob;
  /** A runner picks the job up: job in_progress, runner busy. */
  startJob(jobId: number, runnerName: string): void;
  /** The job finishes; its ephemeral runner is deregistered, as GitHub does for JIT runners. */
  completeJob(jobId: number, conclusion?: string): void;
  /** Cancelled before any runner took it. */
  cancelJob(jobId: number): void;
  jobs(): StandInJob[];
  setHook(hook: { url: string; secret: string }): void;
  deliver(event: string, payload: object, options?: DeliverOptions): Promise<DeliveryResult>;
  deliveries(): StandInDelivery[];
  /** Calls `listener` with each delivery (redeliveries included) once it is answered; returns the unsubscribe. */
  onDelivery(listener: (delivery: StandInDelivery) => void): () => void;
  /** X-RateLimit-Remaining from now on (the window's `used` is set to match). */
  setRateLimitRemaining(remaining: number): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Context {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  pathname: string;
}

type Credential = CallRecord["credential"];

const DOCS = "https://docs.github.com/rest";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const iso = (date: Date) => date.toISOString();
const error = (status: number, message: string): Reply => ({
  status,
  body: { message, documentation_url: DOCS, status: String(status) },
});

/** Operations whose credential is the App's JWT. */
const JWT_OPERATIONS = new Set([
  "apps/get-org-installation",
  "apps/get-repo-installation",
  "apps/create-installation-access-token",
  "apps/list-webhook-deliveries",
  "apps/get-webhook-delivery",
  "apps/redeliver-webhook-delivery",
]);

export async function startGitHubStandIn(options: GitHubStandInOptions = {}): Promise<GitHubStandIn> {
  const spec = loadSpec(options.spec ?? "api.github.com");
  const target: GitHubTarget = options.target ?? { kind: "org", org: "acme" };
  const owner = target.kind === "org" ? target.org : target.owner;
  const appId = options.appId ?? 1234;
  const installationId = options.installationId ?? 4242;
  const hookId = options.hookId ?? 1;
  const prefix = (options.pathPrefix ?? "").replace(/\/+$/, "");
  let latencyMs = options.latencyMs ?? 0;
  let tokenTtlMs = options.tokenTtlMs ?? 60 * 60 * 1000;
  let hook = options.hook;
  const checkAuth = options.appPublicKeyPem !== undefined || options.token !== undefined;

  const violations: Violation[] = [];
  const callLog: CallRecord[] = [];
  const callCounts = new Map<string, number>();
  const failures: { operationId: string; remaining: number; failure: Failure }[] = [];
  const installationTokens = new Map<string, number>();
  let tokensIssued = 0;
  const rate = { limit: 5000, used: 0, reset: Math.floor(Date.now() / 1000) + 3600 };

  const groups = new Map<number, string>([[1, "Default"]]);
  const runners = new Map<number, StandInRunner>();
  /** The name of every runner registered so far, once per registration. */
  const deliveryListeners = new Set<(delivery: StandInDelivery) => void>();
  const registrations: { id: number; name: string; at: number }[] = [];
  const repos = new Set<string>(target.kind === "repo" ? [`${target.owner}/${target.repo}`] : []);
  const jobs = new Map<number, StandInJob>();
  const runs = new Map<
    number,
    { id: number; repo: string; createdAt: Date; runAttempt: number; jobIds: number[] }
  >();
  const deliveries: StandInDelivery[] = [];
  let nextRunnerId = 100;
  let nextGroupId = 2;
  let nextJobId = 5_000_000_000;
  let nextRunId = 9_000_000;
  let nextDeliveryId = 70_000_000_000;
  const repoIds = new Map<string, number>();
  const repoId = (fullName: string) => {
    let id = repoIds.get(fullName);
    if (id === undefined) {
      id = 1_000 + repoIds.size;
      repoIds.set(fullName, id);
    }
    return id;
  };

  // ---- helpers -------------------------------------------------------------------------------------------------

  function sameName(a: string | undefined, b: string): boolean {
    return a !== undefined && a.toLowerCase() === b.toLowerCase();
  }

  /** 404 unless the path names our org (org target) or our repo (repo target), as GitHub hides what you cannot see. */
  function scopeProblem(params: Record<string, string>, scope: "org" | "repo"): Reply | undefined {
    if (scope === "org") {
      return target.kind === "org" && sameName(params.org, target.org) ? undefined : error(404, "Not Found");
    }
    const fullName = `${params.owner}/${params.repo}`;
    if (target.kind === "repo") {
      return sameName(fullName, `${target.owner}/${target.repo}`) ? undefined : error(404, "Not Found");
    }
    return [...repos].some((repo) => sameName(fullName, repo)) ? undefined : error(404, "Not Found");
  }

  function page<T>(items: T[], context: Context): { items: T[]; headers: Record<string, string> } {
    const perPage = Math.min(Number(context.query.get("per_page") ?? 30) || 30, 100);
    const current = Math.max(Number(context.query.get("page") ?? 1) || 1, 1);
    const slice = items.slice((current - 1) * perPage, current * perPage);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number, rel: string) => {
      const query = new URLSearchParams(context.query);
      query.set("page", String(n));
      return `<${origin}${prefix}${context.pathname}?${query}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (current < last) links.push(link(current + 1, "next"), link(last, "last"));
    if (current > 1) links.push(link(1, "first"), link(current - 1, "prev"));
    return { items: slice, headers: links.length ? { link: links.join(", ") } : {} };
  }

  function runnerJson(runner: StandInRunner) {
    return {
      id: runner.id,
      runner_group_id: runner.groupId,
      name: runner.name,
      os: "Linux",
      status: runner.status,
      busy: runner.busy,
      ephemeral: true,
      labels: [
        { id: 1, name: "self-hosted", type: "read-only" },
        ...runner.labels.map((name, index) => ({ id: 10 + index, name, type: "custom" })),
      ],
    };
  }

  function repositoryJson(fullName: string) {
    const [repoOwner = owner, name = fullName] = fullName.split("/");
    return {
      id: repoId(fullName),
      name,
      full_name: fullName,
      private: true,
      archived: false,
      html_url: `https://github.standin.test/${fullName}`,
      owner: { login: repoOwner, id: 1, type: "Organization" },
    };
  }

  function jobJson(job: StandInJob) {
    const base = `https://api.github.standin.test/repos/${job.repo}`;
    return {
      id: job.id,
      run_id: job.runId,
      run_attempt: job.runAttempt,
      run_url: `${base}/actions/runs/${job.runId}`,
      node_id: `J_${job.id}`,
      head_sha: "0000000000000000000000000000000000000000",
      head_branch: "main",
      url: `${base}/actions/jobs/${job.id}`,
      html_url: `https://github.standin.test/${job.repo}/actions/runs/${job.runId}/job/${job.id}`,
      check_run_url: `${base}/check-runs/${job.id}`,
      status: job.status,
      conclusion: job.conclusion,
      created_at: iso(job.createdAt),
      started_at: iso(job.startedAt ?? job.createdAt),
      completed_at: job.completedAt ? iso(job.completedAt) : null,
      name: job.name,
      workflow_name: "CI",
      steps: [],
      labels: job.labels,
      runner_id: job.runnerId,
      runner_name: job.runnerName,
      runner_group_id: job.runnerId === null ? null : 1,
      runner_group_name: job.runnerId === null ? null : "Default",
    };
  }

  function runStatus(run: { jobIds: number[] }): "queued" | "in_progress" | "completed" {
    const statuses = run.jobIds.map((id) => jobs.get(id)?.status ?? "completed");
    if (statuses.every((status) => status === "completed")) return "completed";
    if (statuses.every((status) => status === "queued")) return "queued";
    return "in_progress";
  }

  /** An App hook's deliveries name the installation; an org or repo hook's don't. */
  function deliveryJson(delivery: StandInDelivery, context: Context) {
    const payload = JSON.parse(delivery.payload) as { repository?: { id?: number } };
    return {
      id: delivery.id,
      guid: delivery.guid,
      delivered_at: iso(delivery.deliveredAt),
      redelivery: delivery.redelivery,
      duration: delivery.durationS,
      status:
        delivery.statusCode === 0
          ? "failed to connect to host"
          : delivery.statusCode < 300
            ? "OK"
            : "Invalid HTTP Response",
      status_code: delivery.statusCode,
      event: delivery.event,
      action: delivery.action,
      installation_id: context.pathname.startsWith("/app/hook/") ? installationId : null,
      repository_id: payload.repository?.id ?? null,
      throttled_at: null,
    };
  }

  /** One delivery with what was sent and what came back, as `GET …/deliveries/{delivery_id}` answers. */
  function getDelivery(context: Context): Reply {
    const delivery = deliveries.find((d) => String(d.id) === context.params.delivery_id);
    if (!delivery) return error(404, "Not Found");
    return {
      status: 200,
      body: {
        ...deliveryJson(delivery, context),
        url: delivery.to,
        request: { headers: delivery.requestHeaders, payload: JSON.parse(delivery.payload) },
        response: {
          headers: delivery.statusCode === 0 ? null : delivery.responseHeaders,
          payload: delivery.responseBody,
        },
      },
    };
  }

  function listDeliveries(context: Context): Reply {
    // Newest first, cursor-paginated like GitHub.
    const sorted = [...deliveries].sort((a, b) => b.id - a.id);
    const status = context.query.get("status");
    const filtered = sorted.filter((d) =>
      status === "success"
        ? d.statusCode >= 200 && d.statusCode < 300
        : status === "failure"
          ? !(d.statusCode >= 200 && d.statusCode < 300)
          : true,
    );
    const perPage = Math.min(Number(context.query.get("per_page") ?? 30) || 30, 100);
    // The cursor names the first delivery of the page (by id, as GitHub's does), so deliveries recorded while a
    // client pages back neither shift the pages nor show up twice.
    const cursor = context.query.get("cursor");
    const from = cursor ? Number(Buffer.from(cursor, "base64url").toString()) : Number.POSITIVE_INFINITY;
    const rest = filtered.filter((d) => d.id <= from);
    const slice = rest.slice(0, perPage);
    const headers: Record<string, string> = {};
    const next = rest[perPage];
    if (next) {
      const query = new URLSearchParams(context.query);
      query.set("cursor", Buffer.from(String(next.id)).toString("base64url"));
      headers.link = `<${origin}${prefix}${context.pathname}?${query}>; rel="next"`;
    }
    return { status: 200, body: slice.map((delivery) => deliveryJson(delivery, context)), headers };
  }

  async function redeliver(context: Context): Promise<Reply> {
    const original = deliveries.find((d) => String(d.id) === context.params.delivery_id);
    if (!original) return error(404, "Not Found");
    // To the hook's current URL (the scaler may have moved), else where the original went.
    await send(original.event, original.payload, {
      to: hook?.url ?? original.to,
      secret: hook?.secret ?? original.secret,
      guid: original.guid,
      redelivery: true,
    });
    return { status: 202, body: {} };
  }

  function listRunners(context: Context): Reply {
    const name = context.query.get("name");
    const all = [...runners.values()].filter((runner) => name === null || runner.name === name);
    const { items, headers } = page(all, context);
    return { status: 200, body: { total_count: all.length, runners: items.map(runnerJson) }, headers };
  }

  function generateJitConfig(context: Context): Reply {
    const {
      name,
      runner_group_id: groupId,
      labels,
      work_folder: workFolder,
    } = context.body as {
      name: string;
      runner_group_id: number;
      labels: string[];
      work_folder?: string;
    };
    if (!groups.has(groupId)) return error(404, "Not Found");
    if ([...runners.values()].some((runner) => runner.name === name)) {
      return error(409, "Already exists - A runner with the name already exists.");
    }
    const runner: StandInRunner = {
      id: nextRunnerId++,
      name,
      labels,
      groupId,
      status: "offline",
      busy: false,
      workFolder: workFolder ?? "_work",
    };
    runners.set(runner.id, runner);
    registrations.push({ id: runner.id, name, at: Date.now() });
    const encoded = Buffer.from(
      JSON.stringify({ runnerId: runner.id, name, labels, workFolder: runner.workFolder, groupId }),
    ).toString("base64");
    return { status: 201, body: { runner: runnerJson(runner), encoded_jit_config: encoded } };
  }

  function deleteRunner(context: Context): Reply {
    const runner = runners.get(Number(context.params.runner_id));
    if (!runner) return error(404, "Not Found");
    if (runner.busy) return error(422, `Bad request - Runner "${runner.name}" is still running a job"`);
    runners.delete(runner.id);
    return { status: 204 };
  }

  function installationJson() {
    return {
      id: installationId,
      app_id: appId,
      app_slug: "dind-k8s-standin",
      client_id: "Iv1.standin",
      target_id: 1,
      target_type: target.kind === "org" ? "Organization" : "User",
      account: { login: owner, id: 1, type: target.kind === "org" ? "Organization" : "User" },
      repository_selection: "all",
      permissions: { organization_self_hosted_runners: "write", administration: "write", actions: "read" },
      events: ["workflow_job"],
      created_at: "2026-01-01T00:00:00Z",
      updated_at: "2026-01-01T00:00:00Z",
      single_file_name: null,
      suspended_by: null,
      suspended_at: null,
    };
  }

  const handlers: Record<string, (context: Context) => Reply | Promise<Reply>> = {
    "apps/get-org-installation": (c) =>
      scopeProblem(c.params, "org") ?? { status: 200, body: installationJson() },
    "apps/get-repo-installation": (c) =>
      target.kind === "repo" && scopeProblem(c.params, "repo") === undefined
        ? { status: 200, body: installationJson() }
        : error(404, "Not Found"),
    "apps/create-installation-access-token": (c) => {
      if (Number(c.params.installation_id) !== installationId) return error(404, "Not Found");
      const token = `ghs_${randomBytes(18).toString("base64url")}`;
      const expiresAt = Date.now() + tokenTtlMs;
      installationTokens.set(token, expiresAt);
      tokensIssued += 1;
      return {
        status: 201,
        body: {
          token,
          expires_at: new Date(expiresAt).toISOString(),
          permissions: {
            organization_self_hosted_runners: "write",
            administration: "write",
            actions: "read",
          },
          repository_selection: "all",
        },
      };
    },
    "rate-limit/get": () => {
      const core = {
        limit: rate.limit,
        used: rate.used,
        remaining: rate.limit - rate.used,
        reset: rate.reset,
      };
      return { status: 200, body: { resources: { core, search: core }, rate: core } };
    },
    "actions/generate-runner-jitconfig-for-org": (c) => scopeProblem(c.params, "org") ?? generateJitConfig(c),
    "actions/generate-runner-jitconfig-for-repo": (c) =>
      (target.kind === "repo" ? scopeProblem(c.params, "repo") : error(404, "Not Found")) ??
      generateJitConfig(c),
    "actions/list-self-hosted-runners-for-org": (c) => scopeProblem(c.params, "org") ?? listRunners(c),
    "actions/list-self-hosted-runners-for-repo": (c) =>
      (target.kind === "repo" ? scopeProblem(c.params, "repo") : error(404, "Not Found")) ?? listRunners(c),
    "actions/delete-self-hosted-runner-from-org": (c) => scopeProblem(c.params, "org") ?? deleteRunner(c),
    "actions/delete-self-hosted-runner-from-repo": (c) =>
      (target.kind === "repo" ? scopeProblem(c.params, "repo") : error(404, "Not Found")) ?? deleteRunner(c),
    "actions/list-self-hosted-runner-groups-for-org": (c) => {
      const problem = scopeProblem(c.params, "org");
      if (problem) return problem;
      const all = [...groups].map(([id, name]) => ({
        id,
        name,
        visibility: "all",
        default: id === 1,
        runners_url: `https://api.github.standin.test/orgs/${owner}/actions/runner-groups/${id}/runners`,
        inherited: false,
        allows_public_repositories: false,
      }));
      const { items, headers } = page(all, c);
      return { status: 200, body: { total_count: all.length, runner_groups: items }, headers };
    },
    "apps/list-webhook-deliveries": listDeliveries,
    "apps/get-webhook-delivery": getDelivery,
    "apps/redeliver-webhook-delivery": redeliver,
    "orgs/list-webhook-deliveries": (c) =>
      scopeProblem(c.params, "org") ??
      (Number(c.params.hook_id) === hookId ? listDeliveries(c) : error(404, "Not Found")),
    "orgs/get-webhook-delivery": (c) =>
      scopeProblem(c.params, "org") ??
      (Number(c.params.hook_id) === hookId ? getDelivery(c) : error(404, "Not Found")),
    "orgs/redeliver-webhook-delivery": (c) =>
      scopeProblem(c.params, "org") ??
      (Number(c.params.hook_id) === hookId ? redeliver(c) : error(404, "Not Found")),
    "repos/list-webhook-deliveries": (c) =>
      (target.kind === "repo" ? scopeProblem(c.params, "repo") : error(404, "Not Found")) ??
      (Number(c.params.hook_id) === hookId ? listDeliveries(c) : error(404, "Not Found")),
    "repos/get-webhook-delivery": (c) =>
      (target.kind === "repo" ? scopeProblem(c.params, "repo") : error(404, "Not Found")) ??
      (Number(c.params.hook_id) === hookId ? getDelivery(c) : error(404, "Not Found")),
    "repos/redeliver-webhook-delivery": (c) =>
      (target.kind === "repo" ? scopeProblem(c.params, "repo") : error(404, "Not Found")) ??
      (Number(c.params.hook_id) === hookId ? redeliver(c) : error(404, "Not Found")),
    "apps/list-repos-accessible-to-installation": (c) => {
      const all = [...repos].sort().map(repositoryJson);
      const { items, headers } = page(all, c);
      return { status: 200, body: { total_count: all.length, repositories: items }, headers };
    },
    "repos/list-for-org": (c) => {
      const problem = scopeProblem(c.params, "org");
      if (problem) return problem;
      const { items, headers } = page([...repos].sort().map(repositoryJson), c);
      return { status: 200, body: items, headers };
    },
    "actions/list-workflow-runs-for-repo": (c) => {
      const problem = scopeProblem(c.params, "repo");
      if (problem) return problem;
      const fullName = `${c.params.owner}/${c.params.repo}`;
      const status = c.query.get("status");
      const created = /^>=(.+)$/.exec(c.query.get("created") ?? "");
      const since = created?.[1] ? Date.parse(created[1]) : undefined;
      const all = [...runs.values()]
        .filter((run) => sameName(run.repo, fullName))
        .filter((run) => status === null || runStatus(run) === status)
        .filter((run) => since === undefined || run.createdAt.getTime() >= since)
        .sort((a, b) => b.id - a.id);
      const { items, headers } = page(all, c);
      const body = items.map((run) => ({
        id: run.id,
        name: "CI",
        node_id: `WFR_${run.id}`,
        head_branch: "main",
        head_sha: "0000000000000000000000000000000000000000",
        path: ".github/workflows/ci.yml",
        run_number: run.id,
        run_attempt: run.runAttempt,
        event: "push",
        status: runStatus(run),
        conclusion: runStatus(run) === "completed" ? "success" : null,
        workflow_id: 1,
        created_at: iso(run.createdAt),
        updated_at: iso(run.createdAt),
        repository: repositoryJson(run.repo),
        head_repository: repositoryJson(run.repo),
        pull_requests: [],
      }));
      return { status: 200, body: { total_count: all.length, workflow_runs: body }, headers };
    },
    "actions/list-jobs-for-workflow-run": (c) => {
      const problem = scopeProblem(c.params, "repo");
      if (problem) return problem;
      const run = runs.get(Number(c.params.run_id));
      if (!run || !sameName(run.repo, `${c.params.owner}/${c.params.repo}`)) return error(404, "Not Found");
      const all = run.jobIds.map((id) => jobs.get(id)).filter((job): job is StandInJob => job !== undefined);
      const { items, headers } = page(all, c);
      return { status: 200, body: { total_count: all.length, jobs: items.map(jobJson) }, headers };
    },
    "actions/get-job-for-workflow-run": (c) => {
      const problem = scopeProblem(c.params, "repo");
      if (problem) return problem;
      const job = jobs.get(Number(c.params.job_id));
      if (!job || !sameName(job.repo, `${c.params.owner}/${c.params.repo}`)) return error(404, "Not Found");
      return { status: 200, body: jobJson(job) };
    },
  };

  // ---- auth ----------------------------------------------------------------------------------------------------

  function credentialOf(request: IncomingMessage): { credential: Credential; problem?: string } {
    const header = request.headers.authorization ?? "";
    const match = /^(bearer|token)\s+(\S+)$/i.exec(header);
    if (!match?.[2]) return { credential: "none", problem: "Requires authentication" };
    const secret = match[2];
    if (options.appPublicKeyPem && secret.split(".").length === 3) {
      const nowS = Math.floor(Date.now() / 1000) + (options.clockOffsetS ?? 0);
      const problem = appJwtProblem(secret, options.appPublicKeyPem, appId, nowS);
      return problem
        ? { credential: "jwt", problem: `A JSON web token could not be decoded: ${problem}` }
        : { credential: "jwt" };
    }
    const expiresAt = installationTokens.get(secret);
    if (expiresAt !== undefined) {
      return expiresAt > Date.now()
        ? { credential: "installation" }
        : { credential: "installation", problem: "Bad credentials" };
    }
    if (options.token !== undefined && secret === options.token) return { credential: "token" };
    return { credential: "none", problem: "Bad credentials" };
  }

  function authorize(
    operationId: string,
    request: IncomingMessage,
  ): { credential: Credential; reply?: Reply } {
    if (!checkAuth) return { credential: "none" };
    const { credential, problem } = credentialOf(request);
    if (problem) return { credential, reply: error(401, problem) };
    const needsJwt = JWT_OPERATIONS.has(operationId);
    if (needsJwt && credential !== "jwt") {
      return { credential, reply: error(401, "A JSON web token could not be decoded") };
    }
    if (!needsJwt && credential === "jwt") {
      return {
        credential,
        reply: error(403, "Resource not accessible by integration (use an installation token)"),
      };
    }
    if (operationId === "apps/list-repos-accessible-to-installation" && credential !== "installation") {
      return { credential, reply: error(403, "Resource not accessible by personal access token") };
    }
    return { credential };
  }

  // ---- server --------------------------------------------------------------------------------------------------

  function injected(operationId: string): Reply | undefined {
    const index = failures.findIndex(
      (f) => f.remaining > 0 && (f.operationId === operationId || f.operationId === "*"),
    );
    if (index === -1) return undefined;
    const entry = failures[index]!;
    entry.remaining -= 1;
    if (entry.remaining === 0) failures.splice(index, 1);
    const { failure } = entry;
    if ("rateLimit" in failure) {
      const retryAfterS = failure.retryAfterS ?? 1;
      const status = failure.status ?? 403;
      if (failure.rateLimit === "secondary") {
        return {
          ...error(
            status,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
          ),
          headers: { "retry-after": String(retryAfterS) },
        };
      }
      return {
        ...error(status, "API rate limit exceeded for installation."),
        headers: {
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + retryAfterS),
        },
      };
    }
    return error(failure.status, failure.status === 502 ? "Server Error" : "Internal Server Error");
  }

  async function readBody(request: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }

  let inFlight = 0;
  let peakInFlight = 0;
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    inFlight += 1;
    peakInFlight = Math.max(peakInFlight, inFlight);
    try {
      await answer(request, response);
    } finally {
      inFlight -= 1;
    }
  }

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const method = request.method ?? "GET";
    const url = new URL(request.url ?? "/", "http://standin");
    const bodyText = await readBody(request);
    if (latencyMs > 0) await sleep(latencyMs);
    const respond = (reply: Reply) => {
      const headers: Record<string, string> = {
        "x-ratelimit-limit": String(rate.limit),
        "x-ratelimit-remaining": String(Math.max(rate.limit - rate.used, 0)),
        "x-ratelimit-reset": String(rate.reset),
        "x-ratelimit-used": String(rate.used),
        "x-ratelimit-resource": "core",
        "x-github-request-id": randomUUID(),
        "x-github-api-version-selected": "2022-11-28",
        date: new Date(Date.now() + (options.clockOffsetS ?? 0) * 1000).toUTCString(),
        ...reply.headers,
      };
      if (reply.body !== undefined) headers["content-type"] = "application/json; charset=utf-8";
      response.writeHead(reply.status, headers);
      response.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
    };
    if (!url.pathname.startsWith(`${prefix}/`)) {
      violations.push({
        operationId: "(none)",
        method,
        path: url.pathname,
        problem: `outside the API prefix "${prefix}"`,
      });
      respond(error(404, "Not Found"));
      return;
    }
    const pathname = url.pathname.slice(prefix.length);
    const route = matchRoute(spec, method, pathname);
    if (!route) {
      violations.push({
        operationId: "(none)",
        method,
        path: pathname,
        problem: "no such operation in GitHub's API",
      });
      respond(error(404, "Not Found"));
      return;
    }
    const { operation } = route;
    const record = (status: number, credential: Credential) => {
      callLog.push({
        method,
        path: pathname,
        operationId: operation.operationId,
        status,
        credential,
        scheme: /^(\S+)\s/.exec(request.headers.authorization ?? "")?.[1]?.toLowerCase() ?? "",
        host: request.headers.host ?? "",
        receivedAt,
      });
      callCounts.set(operation.operationId, (callCounts.get(operation.operationId) ?? 0) + 1);
    };
    let body: unknown;
    try {
      body = bodyText === "" ? undefined : JSON.parse(bodyText);
    } catch {
      body = undefined;
    }
    for (const problem of checkRequest(spec, operation, url.searchParams, body, bodyText)) {
      violations.push({ operationId: operation.operationId, method, path: pathname, problem });
    }
    const { credential, reply: denied } = authorize(operation.operationId, request);
    if (denied) {
      record(denied.status, credential);
      respond(denied);
      return;
    }
    if (credential !== "none" || !checkAuth) rate.used += 1;
    const failure = injected(operation.operationId);
    if (failure) {
      record(failure.status, credential);
      respond(failure);
      return;
    }
    const handler = handlers[operation.operationId];
    if (!handler) {
      violations.push({
        operationId: operation.operationId,
        method,
        path: pathname,
        problem: "a GitHub operation the stand-in does not implement (add it if the scaler needs it)",
      });
      record(404, credential);
      respond(error(404, "Not Found"));
      return;
    }
    const reply = await handler({
      params: route.params,
      query: url.searchParams,
      body: (body ?? {}) as Record<string, unknown>,
      pathname,
    });
    const finished = finish(operation, reply);
    for (const problem of checkResponse(spec, operation, finished.status, finished.body)) {
      violations.push({ operationId: operation.operationId, method, path: pathname, problem });
    }
    record(finished.status, credential);
    respond(finished);
  }

  function finish(operation: Operation, reply: Reply): Reply {
    if (reply.body === undefined) return reply;
    const { schema } = responseSchema(operation, reply.status);
    return schema === undefined ? reply : { ...reply, body: complete(schema, reply.body) };
  }

  // ---- webhooks ------------------------------------------------------------------------------------------------

  const signers = new Map<string, Webhooks>();
  function signer(secret: string): Webhooks {
    let webhooks = signers.get(secret);
    if (!webhooks) {
      webhooks = new Webhooks({ secret });
      signers.set(secret, webhooks);
    }
    return webhooks;
  }

  async function send(
    event: string,
    payload: string,
    how: { to?: string; secret?: string; drop?: boolean; guid?: string; redelivery?: boolean },
  ): Promise<DeliveryResult> {
    const to = how.to ?? hook?.url;
    const secret = how.secret ?? hook?.secret;
    if (!to || secret === undefined)
      throw new Error("deliver: no hook URL/secret (pass { to, secret } or setHook)");
    const guid = how.guid ?? randomUUID();
    const parsed = JSON.parse(payload) as { action?: unknown };
    const started = Date.now();
    let statusCode = 0;
    let body = "";
    const requestHeaders: Record<string, string> = {
      accept: "*/*",
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/standin",
      "x-github-event": event,
      "x-github-delivery": guid,
      "x-github-hook-id": String(hookId),
      "x-github-hook-installation-target-id": String(options.appPublicKeyPem ? appId : 1),
      "x-github-hook-installation-target-type": options.appPublicKeyPem
        ? "integration"
        : target.kind === "org"
          ? "organization"
          : "repository",
      "x-hub-signature-256": await signer(secret).sign(payload),
    };
    const responseHeaders: Record<string, string> = {};
    let responseBody: string | null = null;
    if (!how.drop) {
      try {
        const response = await fetch(to, {
          method: "POST",
          headers: requestHeaders,
          body: payload,
          signal: AbortSignal.timeout(10_000),
        });
        statusCode = response.status;
        body = await response.text();
        response.headers.forEach((value, name) => {
          responseHeaders[name] = value;
        });
        responseBody = body;
      } catch {
        statusCode = 0;
      }
    }
    const delivery: StandInDelivery = {
      id: nextDeliveryId++,
      guid,
      event,
      action: typeof parsed.action === "string" ? parsed.action : null,
      deliveredAt: new Date(),
      statusCode,
      redelivery: how.redelivery ?? false,
      durationS: (Date.now() - started) / 1000,
      payload,
      to,
      secret,
      requestHeaders,
      responseHeaders,
      responseBody,
    };
    deliveries.push(delivery);
    for (const listener of deliveryListeners) listener({ ...delivery });
    return { id: delivery.id, guid, statusCode, body };
  }

  // ---- controls ------------------------------------------------------------------------------------------------

  function findRunner(idOrName: number | string): StandInRunner {
    const runner =
      typeof idOrName === "number"
        ? runners.get(idOrName)
        : [...runners.values()].find((r) => r.name === idOrName);
    if (!runner) throw new Error(`stand-in: no runner ${idOrName}`);
    return runner;
  }

  function findJob(jobId: number): StandInJob {
    const job = jobs.get(jobId);
    if (!job) throw new Error(`stand-in: no job ${jobId}`);
    return job;
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((failure: unknown) => {
      violations.push({
        operationId: "(stand-in)",
        method: request.method ?? "",
        path: request.url ?? "",
        problem: `stand-in crashed: ${failure instanceof Error ? failure.stack : String(failure)}`,
      });
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}${prefix}`,
    origin,
    violations,
    callLog,
    calls: (operationId) => (operationId === undefined ? callLog.length : (callCounts.get(operationId) ?? 0)),
    peakInFlight: () => peakInFlight,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    setTokenTtl: (ms) => {
      tokenTtlMs = ms;
    },
    tokensIssued: () => tokensIssued,
    revokeTokens: () => {
      for (const token of installationTokens.keys()) installationTokens.set(token, 0);
    },
    failNext: (operationId, count, failure) => {
      failures.push({ operationId, remaining: count, failure });
    },
    addRunnerGroup: (name) => {
      const id = nextGroupId++;
      groups.set(id, name);
      return id;
    },
    addRepo: (fullName) => {
      repos.add(fullName);
    },
    runners: () => [...runners.values()].map((runner) => ({ ...runner })),
    registeredNames: () => registrations.map((registration) => registration.name),
    registrations: () => registrations.map((registration) => ({ ...registration })),
    addRunner: ({ name, labels, busy = false, status = "online" }) => {
      const runner: StandInRunner = {
        id: nextRunnerId++,
        name,
        labels,
        groupId: 1,
        status,
        busy,
        workFolder: "_work",
      };
      runners.set(runner.id, runner);
      return { ...runner };
    },
    setRunnerBusy: (idOrName, busy) => {
      findRunner(idOrName).busy = busy;
    },
    setRunnerStatus: (idOrName, status) => {
      findRunner(idOrName).status = status;
    },
    addQueuedJob: ({ labels, repo, name, runAttempt = 1 }) => {
      const fullName =
        repo ?? (target.kind === "repo" ? `${target.owner}/${target.repo}` : `${target.org}/app`);
      repos.add(fullName);
      const runId = nextRunId++;
      const job: StandInJob = {
        id: nextJobId++,
        runId,
        runAttempt,
        repo: fullName,
        name: name ?? "build",
        labels,
        status: "queued",
        conclusion: null,
        runnerName: null,
        runnerId: null,
        createdAt: new Date(),
        startedAt: null,
        completedAt: null,
      };
      jobs.set(job.id, job);
      runs.set(runId, { id: runId, repo: fullName, createdAt: job.createdAt, runAttempt, jobIds: [job.id] });
      return { ...job };
    },
    startJob: (jobId, runnerName) => {
      const job = findJob(jobId);
      const runner = findRunner(runnerName);
      runner.busy = true;
      runner.status = "online";
      Object.assign(job, { status: "in_progress", runnerName, runnerId: runner.id, startedAt: new Date() });
    },
    completeJob: (jobId, conclusion = "success") => {
      const job = findJob(jobId);
      Object.assign(job, { status: "completed", conclusion, completedAt: new Date() });
      if (job.runnerId !== null) runners.delete(job.runnerId);
    },
    cancelJob: (jobId) => {
      Object.assign(findJob(jobId), {
        status: "completed",
        conclusion: "cancelled",
        completedAt: new Date(),
      });
    },
    jobs: () => [...jobs.values()].map((job) => ({ ...job })),
    setHook: (value) => {
      hook = value;
    },
    deliver: (event, payload, how = {}) => send(event, JSON.stringify(payload), how),
    deliveries: () => deliveries.map((delivery) => ({ ...delivery })),
    onDelivery: (listener) => {
      deliveryListeners.add(listener);
      return () => deliveryListeners.delete(listener);
    },
    setRateLimitRemaining: (remaining) => {
      rate.used = Math.max(rate.limit - remaining, 0);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
