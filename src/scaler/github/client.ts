/**
 * The scaler's GitHub client: the only place that imports octokit. Everything else codes against GitHubApi, so a
 * version bump touches this folder and tests can hand in a fake.
 */
import { createPrivateKey } from "node:crypto";
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/core";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { GitHubApiError, hintFor } from "./errors.ts";
import { jobLabelsMatch } from "./labels.ts";
import { deleteOutcomeFor } from "./outcomes.ts";
import { nextPageUrl } from "./pagination.ts";
import {
  date,
  flag,
  integer,
  type Json,
  list,
  nullableText,
  record,
  strings,
  text,
} from "./response-shape.ts";
import { clientThrottle } from "./throttle.ts";
import { createInstallationTokenCache } from "./token-cache.ts";
import type {
  DeleteRunnerOutcome,
  GitHubApi,
  GitHubClientOptions,
  GitHubLog,
  JitConfig,
  JitConfigRequest,
  QueuedJob,
  RegisteredRunner,
  WebhookDelivery,
  WorkflowJob,
} from "./types.ts";

export { apiUrlFor } from "./api-url.ts";
export { GitHubApiError } from "./errors.ts";
export type * from "./types.ts";

const GitHubOctokit = Octokit.plugin(throttling, retry);
type OctokitInstance = InstanceType<typeof GitHubOctokit>;

interface Reply {
  status: number;
  data: unknown;
  headers: Record<string, string | number | undefined>;
}

const API_VERSION = "2022-11-28";
const DEFAULT_GROUP_ID = 1;
/** Statuses that are answers, not transient failures: retrying them cannot help. */
const DO_NOT_RETRY = [400, 401, 403, 404, 409, 410, 422, 451];

function requestStatus(
  error: unknown,
): { status: number; message: string; hasResponse: boolean } | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  if (typeof status !== "number") return undefined;
  const response = (error as { response?: { data?: unknown } }).response;
  const data = response?.data;
  const githubMessage =
    typeof data === "object" && data !== null && typeof (data as { message?: unknown }).message === "string"
      ? (data as { message: string }).message
      : undefined;
  const message = githubMessage ?? (error instanceof Error ? error.message : String(error));
  return { status, message, hasResponse: response !== undefined };
}

function checkPrivateKey(pem: string): void {
  try {
    const key = createPrivateKey(pem.replace(/\\n/g, "\n"));
    if (key.asymmetricKeyType !== "rsa") {
      throw new Error(`it is a ${key.asymmetricKeyType} key, GitHub App keys are RSA`);
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `The GitHub App private key is not a usable PEM RSA private key (${reason}); use the .pem file GitHub generated for the App`,
    );
  }
}

function validateOptions(options: GitHubClientOptions): void {
  try {
    new URL(options.apiUrl);
  } catch {
    throw new Error(`GitHub API URL "${options.apiUrl}" is not a URL`);
  }
  if (options.auth.kind === "app") {
    if (!Number.isInteger(options.auth.appId) || options.auth.appId <= 0) {
      throw new Error(`GitHub App id must be a positive integer, got ${options.auth.appId}`);
    }
    checkPrivateKey(options.auth.privateKeyPem);
  } else if (options.auth.token.trim() === "") {
    throw new Error("GitHub token is empty");
  }
}

export function createGitHubApi(options: GitHubClientOptions): GitHubApi {
  validateOptions(options);
  const { target, auth } = options;
  const apiUrl = options.apiUrl.replace(/\/+$/, "");
  const log: GitHubLog = options.log ?? { warn: (message) => console.warn(message) };
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const baseFetch = options.fetch ?? globalThis.fetch;
  const auditWindowMs = options.auditWindowMs ?? 24 * 60 * 60 * 1000;

  let calls = 0;
  let lastRemaining: number | undefined;
  const countingFetch: typeof fetch = async (input, init) => {
    calls += 1;
    const timeout = AbortSignal.timeout(requestTimeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const response = await baseFetch(input, { ...init, signal });
    const remaining = response.headers.get("x-ratelimit-remaining");
    if (remaining !== null && remaining !== "" && !Number.isNaN(Number(remaining))) {
      lastRemaining = Number(remaining);
    }
    return response;
  };

  const throttle = clientThrottle({
    maxConcurrentRequests: options.maxConcurrentRequests ?? 10,
    minWriteIntervalMs: options.minWriteIntervalMs ?? 0,
    rateLimitBaseMs: options.rateLimitBaseMs ?? 1000,
    rateLimitRetries: options.rateLimitRetries ?? 3,
    maxRateLimitWaitS: options.maxRateLimitWaitS ?? 900,
    warn: (message) => log.warn(message),
  });

  const octokitOptions = {
    baseUrl: apiUrl,
    userAgent: options.userAgent ?? "dind-k8s",
    log: {
      debug: (message: string) => log.debug?.(message),
      info: (message: string) => log.debug?.(message),
      warn: (message: string) => log.warn(message),
      error: (message: string) => log.warn(message),
    },
    request: { fetch: countingFetch },
    throttle,
    retry: {
      retries: options.retries ?? 3,
      retryAfterBaseValue: options.retryBaseMs ?? 1000,
      doNotRetry: DO_NOT_RETRY,
    },
  };

  const tokenCache = createInstallationTokenCache(options.tokenRefreshMarginMs ?? 5 * 60_000);

  function appOctokit(installationId?: number): OctokitInstance {
    if (auth.kind !== "app") throw new Error("not an App");
    return new GitHubOctokit({
      ...octokitOptions,
      authStrategy: createAppAuth,
      auth: {
        appId: auth.appId,
        privateKey: auth.privateKeyPem,
        cache: tokenCache,
        log: octokitOptions.log,
        ...(installationId === undefined ? {} : { installationId }),
      },
    });
  }

  function tokenOctokit(token: string): OctokitInstance {
    const octokit = new GitHubOctokit(octokitOptions);
    octokit.hook.before("request", (request) => {
      request.headers.authorization = `Bearer ${token}`;
    });
    return octokit;
  }

  // With an App: a JWT-authenticated client for /app/* and the installation lookup, and an installation client
  // built once the installation id is known.
  const jwtOctokit = auth.kind === "app" ? appOctokit() : tokenOctokit(auth.token);
  let installationOctokit: Promise<OctokitInstance> | undefined;

  const targetPath =
    target.kind === "org"
      ? `/orgs/${encodeURIComponent(target.org)}`
      : `/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}`;

  function failure(method: string, path: string, error: unknown): Error {
    const details = requestStatus(error);
    if (!details) return error instanceof Error ? error : new Error(String(error));
    const status = details.hasResponse ? details.status : 0;
    const hint = hintFor({ method, path, status, apiUrl, target, auth: auth.kind });
    return new GitHubApiError(method, path, status, details.message, hint);
  }

  async function send(
    octokit: OctokitInstance,
    method: string,
    path: string,
    params: Record<string, unknown>,
  ): Promise<Reply> {
    const response = await octokit.request({
      method,
      url: `${apiUrl}${path}`,
      ...params,
      headers: { "x-github-api-version": API_VERSION },
    });
    return { status: response.status, data: response.data, headers: response.headers };
  }

  async function discoverInstallation(): Promise<OctokitInstance> {
    if (auth.kind !== "app") throw new Error("not an App");
    if (auth.installationId !== undefined) return appOctokit(auth.installationId);
    const path = `${targetPath}/installation`;
    let reply: Reply;
    try {
      reply = await send(jwtOctokit, "GET", path, {});
    } catch (error) {
      const details = requestStatus(error);
      if (details?.status === 404) {
        const where =
          target.kind === "org"
            ? `organization "${target.org}"`
            : `repository "${target.owner}/${target.repo}"`;
        throw new GitHubApiError(
          "GET",
          path,
          404,
          details.message,
          `The GitHub App ${auth.appId} is not installed on the ${where}: install it there, or check the name`,
        );
      }
      throw failure("GET", path, error);
    }
    const installationId = integer(record(reply.data, `GET ${path}`), "id", `GET ${path}`);
    log.debug?.(`GitHub App ${auth.appId} installation ${installationId} found for ${path}`);
    return appOctokit(installationId);
  }

  function mainOctokit(): Promise<OctokitInstance> {
    if (auth.kind === "token") return Promise.resolve(jwtOctokit);
    if (!installationOctokit) {
      installationOctokit = discoverInstallation().catch((error: unknown) => {
        installationOctokit = undefined;
        throw error;
      });
    }
    return installationOctokit;
  }

  /** One API call with the right credentials; failures become GitHubApiError naming the endpoint. */
  async function call(
    method: string,
    path: string,
    params: Record<string, unknown> = {},
    via: "installation" | "jwt" = "installation",
  ): Promise<Reply> {
    const octokit = via === "jwt" ? jwtOctokit : await mainOctokit();
    try {
      return await send(octokit, method, path, params);
    } catch (error) {
      // An installation token GitHub no longer accepts (revoked, expired early): fetch a new one, once.
      if (auth.kind === "app" && via === "installation" && requestStatus(error)?.status === 401) {
        log.warn(`GitHub rejected the installation token on ${method} ${path}; fetching a new one`);
        tokenCache.clear();
        try {
          return await send(octokit, method, path, params);
        } catch (again) {
          throw failure(method, path, again);
        }
      }
      throw failure(method, path, error);
    }
  }

  /** Follows rel="next" links until there are none or `more` says stop. */
  async function paginate(
    path: string,
    params: Record<string, unknown>,
    items: (data: unknown, where: string) => unknown[],
    via: "installation" | "jwt" = "installation",
    more: (page: unknown[]) => boolean = () => true,
  ): Promise<unknown[]> {
    const all: unknown[] = [];
    let reply = await call("GET", path, { per_page: 100, ...params }, via);
    for (;;) {
      const page = items(reply.data, `GET ${path}`);
      all.push(...page);
      const next = nextPageUrl(typeof reply.headers.link === "string" ? reply.headers.link : undefined);
      if (!next || page.length === 0 || !more(page)) return all;
      // Only the link's query is taken: the credentials never follow a link to another host, and a proxy or a
      // GHES behind another name keeps working.
      reply = await call("GET", `${path}${new URL(next).search}`, {}, via);
    }
  }

  function readRunner(value: unknown, where: string): RegisteredRunner {
    const runner = record(value, where, "runner");
    return {
      id: integer(runner, "id", where),
      name: text(runner, "name", where),
      status: text(runner, "status", where),
      busy: flag(runner, "busy", where),
      labels: list(runner.labels, where, "labels").map((label) =>
        text(record(label, where, "label"), "name", where),
      ),
    };
  }

  const groupIds = new Map<string, Promise<number>>();

  async function lookupGroup(name: string): Promise<number> {
    const path = `${targetPath}/actions/runner-groups`;
    const groups = await paginate(path, {}, (data, where) =>
      list(record(data, where).runner_groups, where, "runner_groups"),
    );
    const wanted = name.toLowerCase();
    const names: string[] = [];
    for (const value of groups) {
      const group = record(value, `GET ${path}`, "runner group");
      const groupName = text(group, "name", `GET ${path}`);
      names.push(groupName);
      // runner_group.id is documented as a number, not an integer.
      if (groupName.toLowerCase() === wanted) return Number(group.id);
    }
    throw new Error(
      `GitHub runner group "${name}" does not exist in ${target.kind === "org" ? `organization "${target.org}"` : "the repository"}; it has: ${names.join(", ") || "(none)"}`,
    );
  }

  function hookDeliveriesPath(): string {
    if (options.hookId !== undefined) return `${targetPath}/hooks/${options.hookId}/deliveries`;
    if (auth.kind === "app") return "/app/hook/deliveries";
    throw new Error(
      "Reading webhook deliveries with a token needs the id of the webhook (github.hookId): it is in the hook's settings URL, …/settings/hooks/<id>",
    );
  }

  function deliveriesVia(): "installation" | "jwt" {
    return options.hookId === undefined && auth.kind === "app" ? "jwt" : "installation";
  }

  function readDelivery(value: unknown, where: string): WebhookDelivery {
    const delivery = record(value, where, "delivery");
    return {
      id: integer(delivery, "id", where),
      guid: text(delivery, "guid", where),
      event: text(delivery, "event", where),
      action: nullableText(delivery, "action", where),
      deliveredAt: date(delivery, "delivered_at", where),
      statusCode: integer(delivery, "status_code", where),
    };
  }

  async function repositories(): Promise<string[]> {
    if (target.kind === "repo") return [`${target.owner}/${target.repo}`];
    const fromInstallation = auth.kind === "app";
    const path = fromInstallation ? "/installation/repositories" : `${targetPath}/repos`;
    const repos = await paginate(path, fromInstallation ? {} : { type: "all" }, (data, where) =>
      fromInstallation
        ? list(record(data, where).repositories, where, "repositories")
        : list(data, where, "repositories"),
    );
    const names: string[] = [];
    for (const value of repos) {
      const repo = record(value, `GET ${path}`, "repository");
      if (repo.archived === true) continue;
      const fullName = text(repo, "full_name", `GET ${path}`);
      const owner = fullName.split("/")[0] ?? "";
      if (owner.toLowerCase() === target.org.toLowerCase()) names.push(fullName);
    }
    return names;
  }

  function repoPath(repo: string): string {
    const [owner, name, ...rest] = repo.split("/");
    if (!owner || !name || rest.length > 0) throw new Error(`"${repo}" is not an owner/name repository`);
    return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  }

  async function queuedJobsOf(repo: string, labels: string[], since: Date): Promise<QueuedJob[]> {
    const base = repoPath(repo);
    const runsPath = `${base}/actions/runs`;
    const created = `>=${since.toISOString().replace(/\.\d{3}Z$/, "Z")}`;
    const where = `GET ${runsPath}`;
    const runsOf = (data: unknown) => list(record(data, where).workflow_runs, where, "workflow_runs");
    // A run waiting for its first runner is queued; one with a job still waiting beside a running job is in_progress.
    const active = (run: unknown) =>
      ["queued", "in_progress"].includes(text(record(run, where, "workflow run"), "status", where));
    // Most repositories start few runs a day: one unfiltered page holds the whole window, filtered here. Only a
    // repository with a full page is asked again, per status, through every page.
    const first = await call("GET", runsPath, { created, exclude_pull_requests: true, per_page: 100 });
    let runs = runsOf(first.data).filter(active);
    if (runsOf(first.data).length >= 100) {
      const byStatus = await Promise.all(
        ["queued", "in_progress"].map((status) =>
          paginate(runsPath, { status, created, exclude_pull_requests: true }, runsOf),
        ),
      );
      runs = byStatus.flat();
    }
    const runIds = new Set(runs.map((run) => integer(record(run, where, "workflow run"), "id", where)));
    const jobLists = await Promise.all(
      [...runIds].map(async (runId) => {
        const jobsPath = `${base}/actions/runs/${runId}/jobs`;
        const jobsWhere = `GET ${jobsPath}`;
        const values = await paginate(jobsPath, { filter: "latest" }, (data) =>
          list(record(data, jobsWhere).jobs, jobsWhere, "jobs"),
        );
        const jobs: QueuedJob[] = [];
        for (const value of values) {
          const job = record(value, jobsWhere, "job");
          if (text(job, "status", jobsWhere) !== "queued") continue;
          const jobLabels = strings(job, "labels", jobsWhere);
          if (!jobLabelsMatch(jobLabels, labels)) continue;
          jobs.push({
            id: integer(job, "id", jobsWhere),
            runId: integer(job, "run_id", jobsWhere),
            runAttempt: typeof job.run_attempt === "number" ? job.run_attempt : 1,
            labels: jobLabels,
            repo,
            createdAt: date(job, "created_at", jobsWhere),
          });
        }
        return jobs;
      }),
    );
    return jobLists.flat();
  }

  async function registerJitRunner(request: JitConfigRequest): Promise<JitConfig> {
    const path = `${targetPath}/actions/runners/generate-jitconfig`;
    const reply = await call("POST", path, {
      name: request.name,
      runner_group_id: request.runnerGroupId,
      labels: request.labels,
      work_folder: request.workFolder,
    });
    const where = `POST ${path}`;
    const body = record(reply.data, where);
    const runner = record(body.runner, where, "runner");
    return {
      runnerId: integer(runner, "id", where),
      runnerName: text(runner, "name", where),
      encodedJitConfig: text(body, "encoded_jit_config", where),
    };
  }

  async function removeRunner(runnerId: number): Promise<DeleteRunnerOutcome> {
    const path = `${targetPath}/actions/runners/${runnerId}`;
    try {
      const reply = await call("DELETE", path);
      return deleteOutcomeFor(reply.status) ?? "deleted";
    } catch (error) {
      const outcome = error instanceof GitHubApiError ? deleteOutcomeFor(error.status) : undefined;
      if (outcome) return outcome;
      throw error;
    }
  }

  async function runnerNamed(name: string): Promise<RegisteredRunner | undefined> {
    const path = `${targetPath}/actions/runners`;
    const reply = await call("GET", path, { name });
    const where = `GET ${path}`;
    const runners = list(record(reply.data, where).runners, where, "runners").map((runner) =>
      readRunner(runner, where),
    );
    return runners.find((runner) => runner.name === name);
  }

  return {
    async generateJitConfig(request): Promise<JitConfig> {
      try {
        return await registerJitRunner(request);
      } catch (error) {
        if (!(error instanceof GitHubApiError && error.status === 409)) throw error;
      }
      // A runner with this name is registered already. Names are deterministic per Pod, so it is an earlier
      // registration whose JIT config was lost (the scaler died before storing it, or a timed-out request that
      // did succeed). Nobody can start it, so replace it — unless it is running a job.
      const stale = await runnerNamed(request.name);
      if (stale) {
        const outcome = stale.busy ? "busy" : await removeRunner(stale.id);
        if (outcome === "busy") {
          throw new GitHubApiError(
            "POST",
            `${targetPath}/actions/runners/generate-jitconfig`,
            409,
            `runner "${request.name}" (id ${stale.id}) is already registered and running a job`,
            "Another Pod holds this runner's configuration; it is not replaced",
          );
        }
        log.warn(
          `GitHub runner "${request.name}" (id ${stale.id}) was registered without a stored config; replaced it`,
        );
      }
      return registerJitRunner(request);
    },

    deleteRunner: removeRunner,

    async listRunners(): Promise<RegisteredRunner[]> {
      const path = `${targetPath}/actions/runners`;
      const runners = await paginate(path, {}, (data, where) =>
        list(record(data, where).runners, where, "runners"),
      );
      return runners.map((runner) => readRunner(runner, `GET ${path}`));
    },

    async runnerGroupId(name): Promise<number> {
      if (name === undefined || target.kind === "repo") return DEFAULT_GROUP_ID;
      const key = name.toLowerCase();
      let id = groupIds.get(key);
      if (!id) {
        id = lookupGroup(name);
        groupIds.set(key, id);
        // A failed lookup is not cached: the group may be created, or the failure transient.
        id.catch(() => groupIds.delete(key));
      }
      return id;
    },

    async ping(): Promise<void> {
      await call("GET", "/rate_limit");
    },

    rateLimitRemaining: () => lastRemaining,
    callCount: () => calls,

    async listFailedWebhookDeliveries(since): Promise<WebhookDelivery[]> {
      const path = hookDeliveriesPath();
      const where = `GET ${path}`;
      const values = await paginate(
        path,
        {},
        (data) => list(data, where, "deliveries"),
        deliveriesVia(),
        // Newest first: stop once a page reaches back past `since`.
        (page) => {
          const last = page.at(-1);
          return last === undefined || readDelivery(last, where).deliveredAt >= since;
        },
      );
      const deliveries = values
        .map((value) => readDelivery(value, where))
        .filter((d) => d.deliveredAt >= since);
      const ok = (delivery: WebhookDelivery) => delivery.statusCode >= 200 && delivery.statusCode < 300;
      const delivered = new Set(deliveries.filter(ok).map((delivery) => delivery.guid));
      const failed = new Map<string, WebhookDelivery>();
      for (const delivery of deliveries) {
        // One entry per GUID (the newest attempt): redelivering an older attempt would send the same payload again.
        if (!ok(delivery) && !delivered.has(delivery.guid) && !failed.has(delivery.guid)) {
          failed.set(delivery.guid, delivery);
        }
      }
      return [...failed.values()];
    },

    async redeliverWebhook(deliveryId): Promise<void> {
      await call("POST", `${hookDeliveriesPath()}/${deliveryId}/attempts`, {}, deliveriesVia());
    },

    async listQueuedJobs(labels): Promise<QueuedJob[]> {
      const since = new Date(Date.now() - auditWindowMs);
      // Repositories in parallel; maxConcurrentRequests bounds what is in flight.
      const perRepo = await Promise.all(
        (await repositories()).map((repo) => queuedJobsOf(repo, labels, since)),
      );
      return perRepo.flat();
    },

    async getWorkflowJob(repo, jobId): Promise<WorkflowJob> {
      const path = `${repoPath(repo)}/actions/jobs/${jobId}`;
      const reply = await call("GET", path);
      const where = `GET ${path}`;
      const job: Json = record(reply.data, where);
      return {
        id: integer(job, "id", where),
        status: text(job, "status", where),
        conclusion: nullableText(job, "conclusion", where),
        runnerName: nullableText(job, "runner_name", where),
        labels: strings(job, "labels", where),
      };
    },
  };
}
