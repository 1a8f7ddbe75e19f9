/**
 * The `throttle` options of @octokit/plugin-throttling, with Bottleneck groups of this client's own.
 *
 * The plugin's default groups are process-wide (every Octokit in the process shares them) and let one write start
 * a second, which would cap runner releases at one JIT registration a second. Groups built here belong to one
 * client: `maxConcurrentRequests` bounds the requests in flight, `minWriteIntervalMs` spaces the starts of
 * POST/PATCH/PUT/DELETE requests, and the plugin's own waits and retries on rate limits stay as they are.
 *
 * Bottleneck is @octokit/plugin-throttling's own dependency; light.js is the build the plugin uses.
 */

import type { ThrottlingOptions } from "@octokit/plugin-throttling";
import Bottleneck from "bottleneck/light.js";

export interface ThrottleSettings {
  /** Requests in flight at once (token requests have their own group of one). */
  maxConcurrentRequests: number;
  /** Minimum spacing between the starts of writes. */
  minWriteIntervalMs: number;
  /** A rate-limit wait of N seconds lasts N × this many ms. */
  rateLimitBaseMs: number;
  /** Rate-limit retries per request. */
  rateLimitRetries: number;
  /** Give up instead of waiting longer than this for a rate limit to reset. */
  maxRateLimitWaitS: number;
  warn(message: string): void;
  /** True once the client's calls are abandoned (the scaler is stopping): a rate limit is then not waited out. */
  stopped?(): boolean;
}

/** What the plugin reads besides its documented options: it takes `global` and `auth` from `throttle` as well. */
export type ClientThrottle = ThrottlingOptions & { global: Bottleneck.Group; auth: Bottleneck.Group };

export function checkThrottleSettings(
  settings: Pick<ThrottleSettings, "maxConcurrentRequests" | "minWriteIntervalMs">,
): void {
  const { maxConcurrentRequests, minWriteIntervalMs } = settings;
  if (!Number.isInteger(maxConcurrentRequests) || maxConcurrentRequests < 1) {
    throw new Error(`maxConcurrentRequests must be a positive integer, got ${maxConcurrentRequests}`);
  }
  if (!Number.isFinite(minWriteIntervalMs) || minWriteIntervalMs < 0) {
    throw new Error(`minWriteIntervalMs must be a number of milliseconds ≥ 0, got ${minWriteIntervalMs}`);
  }
}

export function clientThrottle(settings: ThrottleSettings): ClientThrottle {
  checkThrottleSettings(settings);
  const { rateLimitRetries, maxRateLimitWaitS, warn, stopped = () => false } = settings;
  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
      const retrying = retryCount < rateLimitRetries && retryAfter <= maxRateLimitWaitS && !stopped();
      warn(
        `GitHub ${kind} rate limit on ${request.method} ${request.url}: ${retrying ? `retrying after ${retryAfter}s` : "giving up"} (retry ${retryCount + 1} of ${rateLimitRetries})`,
      );
      return retrying;
    };
  // Writes pass this group first (the plugin schedules a no-op in it) and then the global one, so they count
  // towards maxConcurrentRequests like reads. The plugin sends content-creating writes through `notifications`
  // too; we make none, and share the spacing so the option means one thing.
  const writes = new Bottleneck.Group({ minTime: settings.minWriteIntervalMs });
  return {
    onRateLimit: onLimit("primary"),
    onSecondaryRateLimit: onLimit("secondary"),
    retryAfterBaseValue: settings.rateLimitBaseMs,
    global: new Bottleneck.Group({ maxConcurrent: settings.maxConcurrentRequests }),
    auth: new Bottleneck.Group({ maxConcurrent: 1 }),
    write: writes,
    notifications: writes,
    search: new Bottleneck.Group({ maxConcurrent: 1 }),
  };
}
