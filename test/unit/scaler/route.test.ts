import { describe, expect, it } from "vitest";
import { routeJob } from "../../../src/scaler/webhook/route.ts";

const sets = [
  { name: "general", labels: ["dind-k8s", "linux", "x64"] },
  { name: "dind", labels: ["dind-k8s"] },
  { name: "big", labels: ["dind-k8s", "big"] },
  { name: "big-too", labels: ["DIND-K8S", "Big"] },
];

describe("routeJob", () => {
  it.each([
    { labels: ["dind-k8s"], expected: "dind", why: "exact match beats a superset" },
    { labels: ["self-hosted", "dind-k8s"], expected: "dind", why: "self-hosted is implicit" },
    { labels: ["Self-Hosted", "DIND-k8s"], expected: "dind", why: "case-insensitive" },
    { labels: ["dind-k8s", "linux"], expected: "general", why: "only the superset has both" },
    { labels: ["dind-k8s", "big"], expected: "big", why: "ties go to config order" },
    { labels: ["dind-k8s", "gpu"], expected: undefined, why: "no set has gpu" },
    { labels: ["self-hosted"], expected: undefined, why: "only the implicit label is too vague" },
    { labels: [], expected: undefined, why: "no labels" },
    { labels: ["ubuntu-latest"], expected: undefined, why: "a GitHub-hosted label" },
  ])("$labels → $expected ($why)", ({ labels, expected }) => {
    expect(routeJob(labels, sets)?.name).toBe(expected);
  });
});
