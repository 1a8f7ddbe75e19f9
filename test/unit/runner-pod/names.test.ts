import { describe, expect, it } from "vitest";
import { addQuantities, quantityToBytes } from "../../../src/scaler/model/quantity.ts";
import { sidecarModeFor } from "../../../src/scaler/model/sidecar-mode.ts";
import type { RunnerTarget } from "../../../src/scaler/model/target.ts";
import { runnerPodName } from "../../../src/scaler/runner-pod/names.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const job = (jobId: number, runAttempt = 1): RunnerTarget => ({ kind: "job", jobId, runAttempt });

describe("runnerPodName", () => {
  it.each([
    ["dind-k8s", job(123), "dind-k8s-123-1"],
    ["dind-k8s", job(123, 3), "dind-k8s-123-3"],
    ["a", job(0), "a-0-1"],
    ["dind-k8s", { kind: "warm", id: "x7k2" } as RunnerTarget, "dind-k8s-warm-x7k2"],
  ])("%s + %o → %s", (set, target, name) => {
    expect(runnerPodName(set, target)).toBe(name);
  });

  it("stays a DNS label of at most 63 characters for the longest set name and job id", () => {
    const longest = "a".repeat(40);
    const name = runnerPodName(longest, job(Number.MAX_SAFE_INTEGER, 9999));
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS_LABEL);
    expect(name.endsWith(`-${Number.MAX_SAFE_INTEGER}-9999`)).toBe(true);
  });

  it("keeps two long set names with the same start apart (hash of the whole name)", () => {
    const a = runnerPodName(`${"x".repeat(38)}-a`, job(Number.MAX_SAFE_INTEGER, 9999));
    const b = runnerPodName(`${"x".repeat(38)}-b`, job(Number.MAX_SAFE_INTEGER, 9999));
    expect(a).not.toBe(b);
    expect([a, b].every((n) => n.length <= 63 && DNS_LABEL.test(n))).toBe(true);
  });

  it("keeps the plain name when it is exactly 63 characters", () => {
    const name = runnerPodName("s".repeat(40), job(Number.MAX_SAFE_INTEGER, 12345));
    expect(name).toBe(`${"s".repeat(40)}-${Number.MAX_SAFE_INTEGER}-12345`);
    expect(name).toHaveLength(63);
  });

  // Golden values: a Pod's name is how a redelivered job finds its Pod, so the shortening must not change
  // between releases (an upgrade would otherwise start a second runner for every queued job).
  it.each([
    [
      "the set name cut to what fits, then a hash of the whole name",
      "a".repeat(60),
      `${"a".repeat(50)}-11ee39-123-1`,
    ],
    [
      "no '--' where the cut falls after dashes (and the set name's own dashes stay)",
      `ab-${"x".repeat(45)}--${"y".repeat(10)}`,
      `ab-${"x".repeat(45)}-078b78-123-1`,
    ],
  ])("a name over 63 characters: %s", (_why, setName, expected) => {
    const name = runnerPodName(setName, job(123));
    expect(name).toBe(expected);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS_LABEL);
  });

  it("is deterministic: a duplicate delivery gives the same name", () => {
    expect(runnerPodName("s", job(5, 2))).toBe(runnerPodName("s", job(5, 2)));
  });

  it.each([
    [job(-1), /bad job id -1/],
    [job(1.5), /bad job id 1.5/],
    [job(1, 0), /bad run attempt 0/],
    [
      { kind: "warm", id: "UPPER" } as RunnerTarget,
      /warm runner id must be 1-16 lowercase letters or digits/,
    ],
    // Each would make a Pod name that isn't a DNS label, or one a warm Pod can't be recognized by.
    [{ kind: "warm", id: "x7k2!" } as RunnerTarget, /warm runner id/],
    [{ kind: "warm", id: "!x7k2" } as RunnerTarget, /warm runner id/],
    [{ kind: "warm", id: "a".repeat(17) } as RunnerTarget, /warm runner id/],
  ])("refuses %o", (target, message) => {
    expect(() => runnerPodName("s", target)).toThrow(message);
  });
});

describe("quantities", () => {
  it.each([
    ["1Gi", 2 ** 30],
    ["512Mi", 512 * 2 ** 20],
    ["1G", 1e9],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["100", 100],
    ["1e3", 1000],
    ["500m", 1],
  ])("%s is %d bytes", (quantity, bytes) => {
    expect(quantityToBytes(quantity)).toBe(bytes);
  });

  it("adds in Mi when it divides evenly, bytes otherwise", () => {
    expect(addQuantities("2Gi", "8Gi")).toBe("10240Mi");
    expect(addQuantities("1G", "1")).toBe("1000000001");
  });

  it("refuses what isn't a quantity", () => {
    expect(() => quantityToBytes("2GB")).toThrow('not a Kubernetes quantity: "2GB"');
  });
});

describe("sidecarModeFor", () => {
  it.each([
    ["native", undefined, "native"],
    ["legacy", { major: "1", minor: "35" }, "legacy"],
    ["auto", undefined, "native"],
    ["auto", { major: "1", minor: "29" }, "native"],
    ["auto", { major: "1", minor: "28" }, "legacy"],
    ["auto", { major: "1", minor: "27+" }, "legacy"],
    ["auto", { major: "1", minor: "30+" }, "native"],
    ["auto", { major: "2", minor: "0" }, "native"],
    // An answer that can't be read gets the sidecar every cluster runs (a native one is refused before 1.29).
    ["auto", { major: "", minor: "" }, "legacy"],
    ["auto", { major: "1", minor: "" }, "legacy"],
    // Unreadable is unreadable, whatever the other half says; and there was no 1.29 before 1.0.
    ["auto", { major: "2", minor: "x" }, "legacy"],
    ["auto", { major: "x", minor: "30" }, "legacy"],
    ["auto", { major: "0", minor: "30" }, "legacy"],
  ] as const)("%s with %o → %s", (setting, version, mode) => {
    expect(sidecarModeFor(setting, version)).toBe(mode);
  });
});
