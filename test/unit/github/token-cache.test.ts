import { describe, expect, it } from "vitest";
import {
  createInstallationTokenCache,
  expiresAtOf,
  refreshMarginFor,
} from "../../../src/scaler/github/token-cache.ts";

// auth-app's cache value: token|createdAt|expiresAt|repositorySelection|permissions|singleFileName
const value = (expiresAt: string, createdAt = "2026-01-01T00:00:00.000Z") =>
  `ghs_abc|${createdAt}|${expiresAt}|all|runners!|`;

describe("installation token cache", () => {
  it("reads expires_at from auth-app's cache value", () => {
    expect(expiresAtOf(value("2026-01-01T01:00:00.000Z"))).toBe(Date.parse("2026-01-01T01:00:00.000Z"));
    expect(expiresAtOf("ghs_abc")).toBeUndefined();
    expect(expiresAtOf(value("not a date"))).toBeUndefined();
  });

  it("serves a token until it is within the margin of expiring, then misses so auth-app fetches a new one", () => {
    let now = Date.parse("2026-01-01T00:00:00.000Z");
    const cache = createInstallationTokenCache(5 * 60_000, () => now);
    const stored = value("2026-01-01T01:00:00.000Z");
    cache.set("42", stored);
    expect(cache.get("42")).toBe(stored);
    now = Date.parse("2026-01-01T00:54:59.000Z");
    expect(cache.get("42")).toBe(stored);
    now = Date.parse("2026-01-01T00:55:00.000Z");
    expect(cache.get("42")).toBeUndefined();
    // Once missed, it stays gone until auth-app stores the new token.
    now = Date.parse("2026-01-01T00:00:00.000Z");
    expect(cache.get("42")).toBeUndefined();
  });

  it("treats a value without a readable expiry as expired, and clear() forgets everything", () => {
    const cache = createInstallationTokenCache(0);
    cache.set("1", "garbage");
    expect(cache.get("1")).toBeUndefined();
    cache.set("2", value(new Date(Date.now() + 60_000).toISOString()));
    cache.clear();
    expect(cache.get("2")).toBeUndefined();
  });
});

describe("refresh margin", () => {
  it("is the configured margin for hour-long tokens and at most half the lifetime of short ones", () => {
    expect(refreshMarginFor(value("2026-01-01T01:00:00.000Z"), 5 * 60_000)).toBe(5 * 60_000);
    expect(refreshMarginFor(value("2026-01-01T00:02:00.000Z"), 5 * 60_000)).toBe(60_000);
    expect(refreshMarginFor("ghs_abc", 5 * 60_000)).toBe(5 * 60_000);
  });

  it("keeps using a two-minute token for its first minute even with a five-minute margin", () => {
    let now = Date.parse("2026-01-01T00:00:00.000Z");
    const cache = createInstallationTokenCache(5 * 60_000, () => now);
    const stored = value("2026-01-01T00:02:00.000Z");
    cache.set("7", stored);
    now = Date.parse("2026-01-01T00:00:59.000Z");
    expect(cache.get("7")).toBe(stored);
    now = Date.parse("2026-01-01T00:01:00.000Z");
    expect(cache.get("7")).toBeUndefined();
  });
});
