/**
 * The Octokit every GitHub call goes through: @octokit/core with plugin-throttling (rate limits, concurrency,
 * write spacing) and plugin-retry (5xx and network failures), a per-request timeout, and counters of the requests
 * made and the rate limit GitHub reported last. Credentials are added by credentials.ts.
 */
import { Octokit, type OctokitOptions } from "@octokit/core";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { clientThrottle } from "./throttle.ts";
import type { GitHubClientOptions, GitHubLog } from "./types.ts";

export const GitHubOctokit = Octokit.plugin(throttling, retry);
export type GitHubOctokitInstance = InstanceType<typeof GitHubOctokit>;

/** Statuses that are answers, not transient failures: retrying them cannot help. */
const DO_NOT_RETRY = [400, 401, 403, 404, 409, 410, 422, 451];

export interface OctokitBase {
  /** Options every Octokit of one client shares (so they share its throttle groups and counters). */
  options: OctokitOptions;
  /** HTTP requests made so far, including token requests and retries. */
  calls(): number;
  /** X-RateLimit-Remaining of the last response that had one. */
  rateLimitRemaining(): number | undefined;
}

export function octokitBase(options: GitHubClientOptions, log: GitHubLog): OctokitBase {
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const baseFetch = options.fetch ?? globalThis.fetch;
  let calls = 0;
  let lastRemaining: number | undefined;
  const countingFetch: typeof fetch = async (input, init) => {
    calls += 1;
    // An abort of options.signal reaches octokit as an AbortError, which neither plugin-retry nor the
    // throttle retries; the timeout's TimeoutError is a network failure and is retried.
    const signals = [AbortSignal.timeout(requestTimeoutMs), init?.signal, options.signal];
    const signal = AbortSignal.any(signals.filter((each) => each !== undefined && each !== null));
    const response = await baseFetch(input, { ...init, signal });
    const remaining = response.headers.get("x-ratelimit-remaining");
    if (remaining !== null && remaining !== "" && !Number.isNaN(Number(remaining))) {
      lastRemaining = Number(remaining);
    }
    return response;
  };
  return {
    options: {
      baseUrl: options.apiUrl.replace(/\/+$/, ""),
      userAgent: options.userAgent ?? "dind-k8s",
      log: {
        debug: (message: string) => log.debug?.(message),
        info: (message: string) => log.debug?.(message),
        warn: (message: string) => log.warn(message),
        error: (message: string) => log.warn(message),
      },
      request: { fetch: countingFetch },
      throttle: clientThrottle({
        maxConcurrentRequests: options.maxConcurrentRequests ?? 10,
        minWriteIntervalMs: options.minWriteIntervalMs ?? 0,
        rateLimitBaseMs: options.rateLimitBaseMs ?? 1000,
        rateLimitRetries: options.rateLimitRetries ?? 3,
        maxRateLimitWaitS: options.maxRateLimitWaitS ?? 900,
        warn: (message) => log.warn(message),
        stopped: () => options.signal?.aborted === true,
      }),
      retry: {
        retries: options.retries ?? 3,
        retryAfterBaseValue: options.retryBaseMs ?? 1000,
        doNotRetry: DO_NOT_RETRY,
      },
    },
    calls: () => calls,
    rateLimitRemaining: () => lastRemaining,
  };
}

const API_VERSION = "2022-11-28";

export interface Reply {
  status: number;
  data: unknown;
  headers: Record<string, string | number | undefined>;
}

/** One request at the pinned REST API version; octokit's RequestError on failure. */
export async function send(
  octokit: GitHubOctokitInstance,
  method: string,
  path: string,
  params: Record<string, unknown> = {},
): Promise<Reply> {
  const response = await octokit.request({
    method,
    url: `${octokit.request.endpoint.DEFAULTS.baseUrl}${path}`,
    ...params,
    headers: { "x-github-api-version": API_VERSION },
  });
  return { status: response.status, data: response.data, headers: response.headers };
}
