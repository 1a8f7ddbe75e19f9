// The webhook endpoint faces the internet: hostile traffic against a real scaler (the shipped Role, the real
// apiserver) must not grow what the scaler keeps — metric series, log lines — nor write to Kubernetes.
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLogger } from "../../src/scaler/observe/log.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { unreachableGitHub } from "../helpers/github-unreachable.ts";
import { flood, HOSTILE_KINDS, metricSeries } from "../helpers/hostile.ts";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { startTestScaler } from "../helpers/scaler.ts";

const env = inject("testenv");

let ns: TestNamespace;
let scaler: RunningScaler;
const logLines: string[] = [];

async function series(): Promise<string[]> {
  return metricSeries(await (await fetch(`${scaler.url}/metrics`)).text());
}

beforeAll(async () => {
  ns = await createTestNamespace(env, "hostile", { podSecurity: "privileged" });
  scaler = await startTestScaler(env, {
    namespace: ns.name,
    github: unreachableGitHub,
    reconcile: false,
    log: createLogger({ level: "debug", write: (line) => logLines.push(line) }),
  });
});

afterAll(async () => {
  await scaler?.stop();
});

describe("a flood of unsigned requests with random 2 KB headers", () => {
  it("adds no metric series, keeps log lines short, and writes nothing to Kubernetes", async () => {
    // One request of each kind first: the series a rejection of that kind adds (fixed labels) exist from now on.
    await flood(scaler.url, { count: HOSTILE_KINDS.length, concurrency: 1 });
    const before = await series();
    const logsBefore = logLines.length;

    const statuses = await flood(scaler.url, { count: 700 });

    const after = await series();
    expect(after.length).toBe(before.length);
    expect(new Set(after)).toEqual(new Set(before));
    // Only refusals: missing or bad signatures (401), an empty event header (400), a content type not JSON (415).
    expect([...statuses.keys()].every((status) => [400, 401, 415].includes(status))).toBe(true);
    expect(statuses.get(401)).toBeGreaterThan(400);
    // Each bad signature is logged, with at most an escaped 64-character prefix of the headers it came with.
    const lines = logLines.slice(logsBefore);
    expect(lines.length).toBeGreaterThan(350);
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(1024);
    const pods = await ns.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name });
    expect(pods.items).toEqual([]);
  });
});
