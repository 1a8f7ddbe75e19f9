import { afterEach, describe, expect, it } from "vitest";
import { createGitHubApi, GitHubApiError } from "../../src/scaler/github/client.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";

const TOKEN = "ghp_contract";
const standIns: GitHubStandIn[] = [];
afterEach(async () => {
  for (const standIn of standIns.splice(0)) await standIn.close();
});

async function standIn(): Promise<GitHubStandIn> {
  const server = await startGitHubStandIn({ token: TOKEN });
  standIns.push(server);
  return server;
}

async function raw(server: GitHubStandIn, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe("the stand-in holds clients to GitHub's OpenAPI description", () => {
  it("records a path GitHub does not have", async () => {
    const server = await standIn();
    expect((await raw(server, "GET", "/orgs/acme/actions/runnerz")).status).toBe(404);
    expect(server.violations).toEqual([
      expect.objectContaining({
        operationId: "(none)",
        path: "/orgs/acme/actions/runnerz",
        problem: expect.stringMatching(/no such operation/),
      }),
    ]);
  });

  it("records a request body that breaks the schema (no labels, a string group id)", async () => {
    const server = await standIn();
    await raw(server, "POST", "/orgs/acme/actions/runners/generate-jitconfig", {
      name: "x",
      runner_group_id: "1",
      labels: [],
    });
    const problems = server.violations.map((violation) => `${violation.operationId}: ${violation.problem}`);
    expect(problems).toEqual([
      expect.stringMatching(
        /^actions\/generate-runner-jitconfig-for-org: request body: .*runner_group_id must be integer.*labels must NOT have fewer than 1 items/,
      ),
    ]);
  });

  it("records unknown and badly typed query parameters", async () => {
    const server = await standIn();
    await raw(server, "GET", "/orgs/acme/actions/runners?per_page=many&pages=2");
    expect(server.violations.map((violation) => violation.problem)).toEqual([
      expect.stringMatching(/query parameter "per_page"="many"/),
      'unknown query parameter "pages"',
    ]);
  });

  it("records a real GitHub operation it does not model, so the client cannot silently depend on it", async () => {
    const server = await standIn();
    expect((await raw(server, "GET", "/orgs/acme/actions/runners/downloads")).status).toBe(404);
    expect(server.violations).toEqual([
      expect.objectContaining({
        operationId: "actions/list-runner-applications-for-org",
        problem: expect.stringMatching(/does not implement/),
      }),
    ]);
  });

  it("needs credentials when configured with them", async () => {
    const server = await standIn();
    const response = await fetch(`${server.url}/rate_limit`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: "Requires authentication" });
  });
});

describe("stand-in controls", () => {
  it("adds latency to every call and counts calls per operation", async () => {
    const server = await standIn();
    server.setLatency(150);
    const started = Date.now();
    await raw(server, "GET", "/rate_limit");
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(server.calls("rate-limit/get")).toBe(1);
    expect(server.calls("actions/list-self-hosted-runners-for-org")).toBe(0);
  });

  it("sends rate-limit headers that count down", async () => {
    const server = await standIn();
    const first = await raw(server, "GET", "/orgs/acme/actions/runners");
    const second = await raw(server, "GET", "/orgs/acme/actions/runners");
    expect(
      Number(first.headers.get("x-ratelimit-remaining")) -
        Number(second.headers.get("x-ratelimit-remaining")),
    ).toBe(1);
    const body = (await (await raw(server, "GET", "/rate_limit")).json()) as {
      resources: { core: { used: number } };
    };
    expect(body.resources.core.used).toBe(3);
    expect(server.violations).toEqual([]);
  });

  it("models runner lifecycle: JIT registration, busy while its job runs, gone after the job", async () => {
    const server = await standIn();
    const github = createGitHubApi({
      apiUrl: server.url,
      target: { kind: "org", org: "acme" },
      auth: { kind: "token", token: TOKEN },
      log: { warn: () => {} },
    });
    const job = server.addQueuedJob({ labels: ["dind-k8s"] });
    const config = await github.generateJitConfig({
      name: "r-1",
      runnerGroupId: 1,
      labels: ["dind-k8s"],
      workFolder: "_work",
    });
    expect(await github.listRunners()).toMatchObject([{ name: "r-1", status: "offline", busy: false }]);
    server.startJob(job.id, "r-1");
    expect(await github.listRunners()).toMatchObject([{ name: "r-1", status: "online", busy: true }]);
    expect(await github.deleteRunner(config.runnerId)).toBe("busy");
    server.completeJob(job.id);
    expect(await github.listRunners()).toEqual([]);
    expect(server.violations).toEqual([]);
  });

  it("gives up on a hung GitHub after the request timeout, naming the URL to check", async () => {
    const server = await standIn();
    server.setLatency(2_000);
    const github = createGitHubApi({
      apiUrl: server.url,
      target: { kind: "org", org: "acme" },
      auth: { kind: "token", token: TOKEN },
      requestTimeoutMs: 100,
      retries: 1,
      retryBaseMs: 1,
      log: { warn: () => {} },
    });
    const started = Date.now();
    const failure = await github.ping().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GitHubApiError);
    expect((failure as GitHubApiError).status).toBe(0);
    expect((failure as Error).message).toContain(`Check that ${server.url} is reachable`);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(github.callCount()).toBe(2);
  });
});
