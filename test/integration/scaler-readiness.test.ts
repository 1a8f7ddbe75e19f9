// Readiness is what intake needs — the apiserver and the runner Pod cache — never GitHub: a GitHub that goes down
// leaves every replica in the Service, taking webhooks, and says so in a metric and one log line.
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createGitHubApi } from "../../src/scaler/github/client.ts";
import { createLogger } from "../../src/scaler/observe/log.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { eventually } from "../helpers/eventually.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { createTestNamespace, type TestNamespace } from "../helpers/kube.ts";
import { startTestScaler, WEBHOOK_SECRET } from "../helpers/scaler.ts";
import { deliver, workflowJobPayload } from "../helpers/webhooks.ts";

const env = inject("testenv");

let ns: TestNamespace;
let github: GitHubStandIn;
let scaler: RunningScaler;
const logLines: string[] = [];

async function metric(name: string): Promise<string | undefined> {
  const text = await (await fetch(`${scaler.url}/metrics`)).text();
  return new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1];
}

beforeAll(async () => {
  ns = await createTestNamespace(env, "readiness", { podSecurity: "privileged" });
  github = await startGitHubStandIn({ target: { kind: "org", org: "octo-org" }, token: "ghp_ready" });
  scaler = await startTestScaler(env, {
    namespace: ns.name,
    github: createGitHubApi({
      apiUrl: github.url,
      target: { kind: "org", org: "octo-org" },
      auth: { kind: "token", token: "ghp_ready" },
      retryBaseMs: 5,
      rateLimitBaseMs: 5,
      log: { warn: () => {} },
    }),
    reconcile: true,
    githubProbeMs: 100,
    log: createLogger({ level: "info", write: (line) => logLines.push(line) }),
  });
});

afterAll(async () => {
  await scaler?.stop();
  await github?.close();
});

describe("/readyz while GitHub is down", () => {
  it("reports GitHub reachable while it is", async () => {
    // 0 until the first probe has answered.
    await eventually("the first probe to answer", async () =>
      (await metric("dind_k8s_github_reachable")) === "1" ? true : undefined,
    );
    expect((await fetch(`${scaler.url}/readyz`)).status).toBe(200);
  });

  it("stays 200 and keeps recording jobs when GitHub goes down; the metric and one log line say so", async () => {
    expect(github.violations).toEqual([]);
    await github.close();
    await eventually("the probe to notice", async () =>
      (await metric("dind_k8s_github_reachable")) === "0" ? true : undefined,
    );
    const ready = await fetch(`${scaler.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe("ok\n");

    const queued = await deliver(
      scaler.url,
      "workflow_job",
      workflowJobPayload({ action: "queued", jobId: 9191 }),
      {
        secret: WEBHOOK_SECRET,
      },
    );
    expect(queued.status).toBe(201);
    const pods = await ns.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name });
    expect(pods.items.map((pod) => pod.metadata?.name)).toEqual(["dind-k8s-9191-1"]);

    // Probes go on every 100 ms; the log says it once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const warnings = logLines.filter((line) => line.includes('"message":"GitHub unreachable'));
    expect(warnings).toHaveLength(1);
    // And one Kubernetes Event, on the Lease every replica shares, for `kubectl get events`.
    const events = await ns.kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns.name });
    const lost = events.items.filter((event) => event.reason === "GitHubUnreachable");
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({
      type: "Warning",
      involvedObject: { kind: "Lease", name: "dind-k8s-scaler", namespace: ns.name },
    });
    expect(lost[0]?.message).toMatch(/^GitHub does not answer \(.+\); webhooks are still taken/);
    expect((await fetch(`${scaler.url}/readyz`)).status).toBe(200);
  });
});
