/**
 * Installation-token cache for @octokit/auth-app that honours the token's `expires_at`.
 *
 * auth-app's own cache keeps a token for a fixed 59 minutes whatever GitHub says the expiry is, so a token that
 * expires sooner (clock skew, a shortened lifetime, a test server) would be sent after it died. auth-app stores
 * `token|createdAt|expiresAt|…` strings under a key per installation; we read `expiresAt` and report a miss once
 * the token is within `refreshMarginMs` of expiring (at most half its lifetime), which makes auth-app fetch a fresh one.
 */
export interface InstallationTokenCache {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  /** Forget every token (after GitHub rejected one with 401). */
  clear(): void;
}

function timeField(value: string, index: number): number | undefined {
  const field = value.split("|")[index];
  if (!field) return undefined;
  const time = Date.parse(field);
  return Number.isNaN(time) ? undefined : time;
}

export function expiresAtOf(value: string): number | undefined {
  return timeField(value, 2);
}

/**
 * How long before expiry a token is replaced: the configured margin, but never more than half the token's
 * lifetime, so a short-lived token is still used for a while instead of being fetched again on every call.
 */
export function refreshMarginFor(value: string, refreshMarginMs: number): number {
  const createdAt = timeField(value, 1);
  const expiresAt = timeField(value, 2);
  if (createdAt === undefined || expiresAt === undefined) return refreshMarginMs;
  return Math.min(refreshMarginMs, Math.max(expiresAt - createdAt, 0) / 2);
}

export function createInstallationTokenCache(
  refreshMarginMs: number,
  now: () => number = Date.now,
): InstallationTokenCache {
  const entries = new Map<string, string>();
  return {
    get(key) {
      const value = entries.get(key);
      if (value === undefined) return undefined;
      const expiresAt = expiresAtOf(value);
      if (expiresAt === undefined || expiresAt - now() <= refreshMarginFor(value, refreshMarginMs)) {
        entries.delete(key);
        return undefined;
      }
      return value;
    },
    set(key, value) {
      entries.set(key, value);
    },
    clear() {
      entries.clear();
    },
  };
}
