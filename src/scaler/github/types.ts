export type GitHubTarget = { kind: "org"; org: string } | { kind: "repo"; owner: string; repo: string };

export type GitHubAuth =
  | { kind: "app"; appId: number; privateKeyPem: string; installationId?: number }
  | { kind: "token"; token: string };

export interface GitHubLog {
  debug?(message: string): void;
  warn(message: string): void;
}

export interface GitHubClientOptions {
  /** REST API base URL, e.g. https://api.github.com or https://ghe.example.com/api/v3 (see apiUrlFor). */
  apiUrl: string;
  target: GitHubTarget;
  auth: GitHubAuth;
  userAgent?: string;
  /** Id of the org/repo webhook whose deliveries are swept. Required with a token; with an App, unset means the App's own hook. */
  hookId?: number;
  /** Retries of a request that failed with 5xx or a network error (octokit plugin-retry). Default 3. */
  retries?: number;
  /** plugin-retry waits (attempt²) × this many ms. Default 1000. */
  retryBaseMs?: number;
  /** A rate-limit wait of N seconds (Retry-After / X-RateLimit-Reset) lasts N × this many ms. Default 1000. */
  rateLimitBaseMs?: number;
  /** Give up instead of waiting longer than this for a rate limit to reset. Default 900 (15 minutes). */
  maxRateLimitWaitS?: number;
  /** Rate-limit retries per request. Default 3. */
  rateLimitRetries?: number;
  /** Requests in flight at once. Default 10. */
  maxConcurrentRequests?: number;
  /** Minimum spacing between the starts of POST/PATCH/PUT/DELETE requests. Default 0. */
  minWriteIntervalMs?: number;
  /** Abort a single HTTP request after this long. Default 30000. */
  requestTimeoutMs?: number;
  /** Fetch a new installation token this long before the current one expires. Default 300000 (5 minutes). */
  tokenRefreshMarginMs?: number;
  /** Runs for the queued-job audit are looked up only this far back (GitHub cancels jobs queued for 24 h). Default 24 h. */
  auditWindowMs?: number;
  log?: GitHubLog;
  /**
   * Aborting it abandons every call in flight or queued, and no call is retried after it: the scaler aborts it
   * on SIGTERM so a hung GitHub can't hold the shutdown past the Pod's grace period.
   */
  signal?: AbortSignal;
  /** For tests: the fetch implementation (defaults to the global fetch). */
  fetch?: typeof fetch;
}

export interface JitConfigRequest {
  name: string;
  runnerGroupId: number;
  labels: string[];
  workFolder: string;
}

export interface JitConfig {
  runnerId: number;
  runnerName: string;
  encodedJitConfig: string;
}

export interface RegisteredRunner {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  labels: string[];
}

/** 204 → deleted, 422 → busy (the runner is running a job), 404 → not-found (already gone). */
export type DeleteRunnerOutcome = "deleted" | "busy" | "not-found";

export interface WebhookDelivery {
  id: number;
  guid: string;
  event: string;
  action: string | null;
  deliveredAt: Date;
  statusCode: number;
  /** The App installation the event belongs to; null for an org or repo hook. */
  installationId: number | null;
}

/** One delivery as the delivery log keeps it: the webhook body GitHub sent (or tried to send). */
export interface WebhookDeliveryRecord extends WebhookDelivery {
  /** The request's JSON body, parsed; null when GitHub kept none. */
  payload: unknown;
}

export interface QueuedJob {
  id: number;
  runId: number;
  runAttempt: number;
  labels: string[];
  /** owner/name */
  repo: string;
  createdAt: Date;
}

export interface WorkflowJob {
  id: number;
  status: string;
  conclusion: string | null;
  runnerName: string | null;
  labels: string[];
}

export interface GitHubApi {
  /**
   * Registers a JIT runner: one call. If the name is taken (409) by a registration that is not running a job —
   * an earlier attempt whose config was lost — that runner is deleted and the call repeated (3 more calls, only
   * then); a busy namesake is left alone and the 409 thrown.
   */
  generateJitConfig(request: JitConfigRequest): Promise<JitConfig>;
  /** The idempotent outcomes are answers, not errors; anything else throws a GitHubApiError. */
  deleteRunner(runnerId: number): Promise<DeleteRunnerOutcome>;
  /** Every registered runner of the target, all pages. */
  listRunners(): Promise<RegisteredRunner[]>;
  /** undefined → the default group (id 1) without a call; a name → looked up once and cached; repo target → 1. */
  runnerGroupId(name: string | undefined): Promise<number>;
  /** Cheap readiness call (GET /rate_limit, which also proves the credentials); throws a GitHubApiError. */
  ping(): Promise<void>;
  /** X-RateLimit-Remaining of the last response, if it had one. */
  rateLimitRemaining(): number | undefined;
  /** HTTP requests made so far, including token requests and retries. */
  callCount(): number;
  /**
   * Deliveries of our hook since `since` that failed (no 2xx) and whose GUID was not delivered successfully
   * later (a successful redelivery shows up as a separate delivery with the same GUID). Newest first.
   */
  listFailedWebhookDeliveries(since: Date): Promise<WebhookDelivery[]>;
  redeliverWebhook(deliveryId: number): Promise<void>;
  /**
   * Every delivery of our hook newer than `afterId` (all since `since` when undefined) and not older than
   * `since`, failed or not: the delivery log the poll reads. Newest first; one call per 100.
   */
  listWebhookDeliveriesAfter(afterId: number | undefined, since: Date): Promise<WebhookDelivery[]>;
  /** One delivery with its payload: one call. */
  getWebhookDelivery(deliveryId: number): Promise<WebhookDeliveryRecord>;
  /**
   * Queued jobs (latest attempt) whose labels, ignoring `self-hosted`, are all among `labels` (case-insensitive),
   * across the target's repositories, from runs created in the audit window. Cost: P pages of the repository
   * list (org target only) + 1 call per repository + 2 more per repository with ≥ 100 runs in the window (+ their
   * further pages) + 1 per run that is queued or in progress.
   */
  listQueuedJobs(labels: string[]): Promise<QueuedJob[]>;
  getWorkflowJob(repo: string, jobId: number): Promise<WorkflowJob>;
  /**
   * Uses these credentials from the next call on (the key or token was rotated). Throws, changing nothing, when
   * they are not usable or of another kind (App for a token, or the reverse: that is a new configuration).
   */
  useCredentials(auth: GitHubAuth): void;
}
