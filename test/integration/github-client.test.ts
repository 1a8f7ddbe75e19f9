import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { apiUrlFor, createGitHubApi, GitHubApiError } from "../../src/scaler/github/client.ts";
import { useGitHubStandIns } from "../helpers/github-standin/fixture.ts";

const APP_ID = 777;
const PAT = "ghp_standin_token";
// Rate-limit waits of N seconds last N × 20 ms, retries (attempt²) × 20 ms.
const { keys, standIn, appClient, patClient } = useGitHubStandIns({
  appId: APP_ID,
  token: PAT,
  waitBaseMs: 20,
});

const jit = (name: string, labels = ["dind-k8s"]) => ({
  name,
  runnerGroupId: 1,
  labels,
  workFolder: "/runner/_work",
});

describe("GitHub App auth, org target", () => {
  it("finds the installation, creates a token once, and registers a JIT runner with our labels", async () => {
    const server = await standIn();
    const github = appClient(server);
    const config = await github.generateJitConfig(jit("dind-k8s-job-1", ["dind-k8s", "large"]));
    expect(config.runnerName).toBe("dind-k8s-job-1");
    const decoded = JSON.parse(Buffer.from(config.encodedJitConfig, "base64").toString());
    expect(decoded).toMatchObject({
      runnerId: config.runnerId,
      workFolder: "/runner/_work",
      labels: ["dind-k8s", "large"],
    });
    expect(server.runners()).toMatchObject([
      { id: config.runnerId, name: "dind-k8s-job-1", labels: ["dind-k8s", "large"] },
    ]);

    await github.generateJitConfig(jit("dind-k8s-job-2"));
    expect(server.calls("apps/get-org-installation")).toBe(1);
    expect(server.calls("apps/create-installation-access-token")).toBe(1);
    expect(server.calls("actions/generate-runner-jitconfig-for-org")).toBe(2);
    // installation lookup + token + 2 JIT configs
    expect(github.callCount()).toBe(4);
    const credentials = server.callLog.map((call) => `${call.operationId}:${call.credential}`);
    expect(credentials).toEqual([
      "apps/get-org-installation:jwt",
      "apps/create-installation-access-token:jwt",
      "actions/generate-runner-jitconfig-for-org:installation",
      "actions/generate-runner-jitconfig-for-org:installation",
    ]);
  });

  it("uses a configured installation id without looking it up", async () => {
    const server = await standIn({ installationId: 99 });
    const github = appClient(server, {
      auth: { kind: "app", appId: APP_ID, privateKeyPem: keys.privateKey, installationId: 99 },
    });
    await github.ping();
    expect(server.calls("apps/get-org-installation")).toBe(0);
    expect(server.calls("rate-limit/get")).toBe(1);
    // X-RateLimit-Remaining of the last answer: the stand-in's 5,000 less the token request and this call.
    expect(server.calls()).toBe(2);
    expect(github.rateLimitRemaining()).toBe(4_998);
  });

  it("refreshes the installation token before it expires", async () => {
    const server = await standIn({ tokenTtlMs: 1_500 });
    const github = appClient(server, { tokenRefreshMarginMs: 1_000 });
    await github.listRunners();
    await github.listRunners();
    expect(server.tokensIssued()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 900));
    // 0.6 s left on the token: inside the margin (1 s, capped at half the 1.5 s lifetime), so a new one is
    // fetched before the call, not after a 401.
    await github.listRunners();
    expect(server.tokensIssued()).toBe(2);
    expect(server.callLog.filter((call) => call.status === 401)).toEqual([]);
  });

  it("fetches a new token once when GitHub rejects the cached one", async () => {
    const server = await standIn();
    const github = appClient(server);
    await github.listRunners();
    server.revokeTokens();
    await expect(github.listRunners()).resolves.toEqual([]);
    expect(server.tokensIssued()).toBe(2);
  });

  it("names the App and the org when the App is not installed there", async () => {
    const server = await standIn({ target: { kind: "org", org: "other-org" } });
    const github = appClient(server);
    const failure = await github.listRunners().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GitHubApiError);
    expect((failure as GitHubApiError).status).toBe(404);
    expect((failure as Error).message).toMatch(/GET \/orgs\/acme\/installation → 404/);
    expect((failure as Error).message).toMatch(/App 777 is not installed on the organization "acme"/);
  });

  it("says what to check when the private key belongs to another App", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const server = await standIn();
    const github = appClient(server, {
      auth: {
        kind: "app",
        appId: APP_ID,
        privateKeyPem: other.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      },
    });
    const failure = await github.ping().catch((error: unknown) => error);
    expect((failure as GitHubApiError).status).toBe(401);
    expect((failure as Error).message).toMatch(/private key/);
  });

  it.each([
    ["ahead", 15 * 60],
    ["behind", -15 * 60],
  ])(
    "works when GitHub's clock is 15 minutes %s of ours (the JWT is re-made from the Date header)",
    async (_how, offset) => {
      const server = await standIn({ clockOffsetS: offset });
      const github = appClient(server);
      await github.generateJitConfig(jit("skewed"));
      expect(server.runners().map((runner) => runner.name)).toEqual(["skewed"]);
      // auth-app retries each JWT call once with the corrected time; it does not remember the offset.
      expect(server.callLog.map((call) => `${call.operationId} ${call.status}`)).toEqual([
        "apps/get-org-installation 401",
        "apps/get-org-installation 200",
        "apps/create-installation-access-token 401",
        "apps/create-installation-access-token 201",
        "actions/generate-runner-jitconfig-for-org 201",
      ]);
    },
  );

  it("rejects a private key that is not a PEM RSA key before any call", () => {
    expect(() =>
      createGitHubApi({
        apiUrl: "http://127.0.0.1:1",
        target: { kind: "org", org: "acme" },
        auth: { kind: "app", appId: 1, privateKeyPem: "not a key" },
      }),
    ).toThrow(/private key is not a usable PEM RSA private key/);
  });
});

describe("runners", () => {
  it("lists every page of runners", async () => {
    const server = await standIn();
    for (let i = 0; i < 230; i++) server.addRunner({ name: `runner-${i}`, labels: ["dind-k8s"] });
    // Reached under another name (a proxy, a GHES alias): the Link headers name 127.0.0.1, and only their query
    // is taken, so the token never follows a link to another host.
    const github = patClient(server, { apiUrl: server.url.replace("127.0.0.1", "localhost") });
    const runners = await github.listRunners();
    expect(runners).toHaveLength(230);
    expect(new Set(runners.map((runner) => runner.name)).size).toBe(230);
    expect(runners[0]).toEqual({
      id: runners[0]?.id,
      name: "runner-0",
      status: "online",
      busy: false,
      labels: ["self-hosted", "dind-k8s"],
    });
    expect(server.calls("actions/list-self-hosted-runners-for-org")).toBe(3);
    expect(new Set(server.callLog.map((call) => call.host))).toEqual(
      new Set([new URL(server.url).host.replace("127.0.0.1", "localhost")]),
    );
  });

  it("maps delete outcomes: 204 deleted, 422 busy, 404 not-found", async () => {
    const server = await standIn();
    const idle = server.addRunner({ name: "idle", labels: ["x"] });
    const busy = server.addRunner({ name: "busy", labels: ["x"], busy: true });
    const github = patClient(server);
    expect(await github.deleteRunner(idle.id)).toBe("deleted");
    expect(await github.deleteRunner(idle.id)).toBe("not-found");
    expect(await github.deleteRunner(busy.id)).toBe("busy");
    expect(server.runners().map((runner) => runner.name)).toEqual(["busy"]);
    // Answers, not failures: none of them was retried.
    expect(server.calls("actions/delete-self-hosted-runner-from-org")).toBe(3);
  });

  it("replaces a registration left without its JIT config (409) instead of failing the release forever", async () => {
    const server = await standIn();
    const github = patClient(server);
    const first = await github.generateJitConfig(jit("dind-k8s-7-1"));
    // The scaler died before storing `first`: the same Pod asks again.
    const second = await github.generateJitConfig(jit("dind-k8s-7-1"));
    expect(second.runnerId).not.toBe(first.runnerId);
    expect(server.runners().map((runner) => [runner.id, runner.name])).toEqual([
      [second.runnerId, "dind-k8s-7-1"],
    ]);
    expect(server.callLog.map((call) => `${call.operationId} ${call.status}`)).toEqual([
      "actions/generate-runner-jitconfig-for-org 201",
      "actions/generate-runner-jitconfig-for-org 409",
      "actions/list-self-hosted-runners-for-org 200",
      "actions/delete-self-hosted-runner-from-org 204",
      "actions/generate-runner-jitconfig-for-org 201",
    ]);
  });

  it("does not replace a same-named runner that is running a job", async () => {
    const server = await standIn();
    const github = patClient(server);
    const first = await github.generateJitConfig(jit("dind-k8s-8-1"));
    server.setRunnerBusy(first.runnerId, true);
    const failure = await github.generateJitConfig(jit("dind-k8s-8-1")).catch((error: unknown) => error);
    expect((failure as GitHubApiError).status).toBe(409);
    expect((failure as Error).message).toMatch(/already registered and running a job/);
    expect(server.runners()).toMatchObject([{ id: first.runnerId, busy: true }]);
    expect(server.calls("actions/delete-self-hosted-runner-from-org")).toBe(0);
  });

  it("resolves runner group names once and the default group without a call", async () => {
    const server = await standIn();
    for (let i = 0; i < 120; i++) server.addRunnerGroup(`filler-${i}`);
    const gpu = server.addRunnerGroup("GPU Runners");
    const github = patClient(server);
    expect(await github.runnerGroupId(undefined)).toBe(1);
    expect(server.calls()).toBe(0);
    expect(await github.runnerGroupId("gpu runners")).toBe(gpu);
    expect(await github.runnerGroupId("GPU Runners")).toBe(gpu);
    expect(server.calls("actions/list-self-hosted-runner-groups-for-org")).toBe(2); // two pages, once
    await expect(github.runnerGroupId("missing")).rejects.toThrow(
      /runner group "missing" does not exist.*Default/,
    );
  });

  it("sends a PAT the way @octokit/auth-token does (`token …`), and the App's JWT and installation token as Bearer", async () => {
    const server = await standIn();
    await patClient(server).ping();
    await appClient(server).ping();
    expect(
      server.callLog.map((call) => `${call.operationId} ${call.credential} ${call.scheme} ${call.status}`),
    ).toEqual([
      "rate-limit/get token token 200",
      "apps/get-org-installation jwt bearer 200",
      "apps/create-installation-access-token jwt bearer 201",
      "rate-limit/get installation token 200",
    ]);
  });

  it("names the endpoint, status and scopes when the token is wrong", async () => {
    const server = await standIn();
    const github = patClient(server, { auth: { kind: "token", token: "ghp_wrong" } });
    await expect(github.listRunners()).rejects.toThrow(
      /GET \/orgs\/acme\/actions\/runners → 401: Bad credentials\. Check the token/,
    );
  });

  it("names the organization on 404", async () => {
    const server = await standIn();
    const github = patClient(server, { target: { kind: "org", org: "acme-typo" } });
    await expect(github.generateJitConfig(jit("x"))).rejects.toThrow(
      /POST \/orgs\/acme-typo\/actions\/runners\/generate-jitconfig → 404.*organization "acme-typo".*admin:org/,
    );
  });
});

describe("repo target", () => {
  it("uses the repository endpoints with a PAT and group 1", async () => {
    const server = await standIn({ target: { kind: "repo", owner: "octo", repo: "app" } });
    const github = patClient(server, { target: { kind: "repo", owner: "octo", repo: "app" } });
    expect(await github.runnerGroupId("anything")).toBe(1);
    const config = await github.generateJitConfig(jit("repo-runner"));
    expect(await github.listRunners()).toMatchObject([{ id: config.runnerId, name: "repo-runner" }]);
    expect(await github.deleteRunner(config.runnerId)).toBe("deleted");
    expect(server.callLog.map((call) => call.operationId)).toEqual([
      "actions/generate-runner-jitconfig-for-repo",
      "actions/list-self-hosted-runners-for-repo",
      "actions/delete-self-hosted-runner-from-repo",
    ]);
  });

  it("finds a repository installation of an App", async () => {
    const server = await standIn({ target: { kind: "repo", owner: "octo", repo: "app" } });
    const github = appClient(server, { target: { kind: "repo", owner: "octo", repo: "app" } });
    await github.generateJitConfig(jit("repo-app-runner"));
    expect(server.calls("apps/get-repo-installation")).toBe(1);
    expect(server.calls("actions/generate-runner-jitconfig-for-repo")).toBe(1);
  });
});

describe("retries and rate limits", () => {
  it("retries 5xx answers and succeeds", async () => {
    const server = await standIn();
    const github = patClient(server);
    server.failNext("actions/generate-runner-jitconfig-for-org", 2, { status: 502 });
    const config = await github.generateJitConfig(jit("after-502"));
    expect(config.runnerName).toBe("after-502");
    expect(server.callLog.map((call) => call.status)).toEqual([502, 502, 201]);
    expect(github.callCount()).toBe(3);
  });

  it("gives up after the configured retries with a clear error", async () => {
    const server = await standIn();
    const github = patClient(server, { retries: 2 });
    server.failNext("*", 10, { status: 500 });
    await expect(github.listRunners()).rejects.toThrow(
      /GET \/orgs\/acme\/actions\/runners → 500.*githubstatus/,
    );
    expect(server.calls()).toBe(3);
  });

  it("waits for a primary rate limit to reset, then retries", async () => {
    const server = await standIn();
    const github = patClient(server);
    server.failNext("actions/list-self-hosted-runners-for-org", 1, { rateLimit: "primary", retryAfterS: 1 });
    const started = Date.now();
    await github.listRunners();
    // Reset in ~1 s → the plugin waits (ceil(1)+1) × 20 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(20);
    // …in units of rateLimitBaseMs, not the plugin's default of a second.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(server.callLog.map((call) => call.status)).toEqual([403, 200]);
  });

  it("waits on a secondary rate limit (429 with Retry-After), then retries", async () => {
    const server = await standIn();
    const github = patClient(server);
    server.failNext("actions/generate-runner-jitconfig-for-org", 1, {
      rateLimit: "secondary",
      status: 429,
      retryAfterS: 3,
    });
    const started = Date.now();
    await github.generateJitConfig(jit("after-429"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
    expect(server.callLog.map((call) => call.status)).toEqual([429, 201]);
  });

  it("does not wait longer than maxRateLimitWaitS", async () => {
    const server = await standIn();
    const github = patClient(server, { maxRateLimitWaitS: 5 });
    server.failNext("*", 1, { rateLimit: "secondary", retryAfterS: 3600 });
    await expect(github.listRunners()).rejects.toThrow(/→ 403: You have exceeded a secondary rate limit/);
    expect(server.calls()).toBe(1);
  });

  it("keeps many requests in flight against a slow GitHub", async () => {
    const server = await standIn({ latencyMs: 100 });
    const github = patClient(server, { maxConcurrentRequests: 50 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => github.generateJitConfig(jit(`burst-${i}`))));
    // 100 calls × 100 ms would be 10 s serially; 50 at a time ≈ 0.2 s.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.runners()).toHaveLength(100);
    expect(github.callCount()).toBe(100);
    // Bottleneck starts one queued request per timer tick, so the peak is not always the bound; above 10 (the
    // plugin's default) shows our group is the one in use.
    expect(server.peakInFlight()).toBeGreaterThan(10);
    expect(server.peakInFlight()).toBeLessThanOrEqual(50);
  });
});

describe("throttling (plugin-throttling's Bottleneck groups, one set per client)", () => {
  it("never has more than maxConcurrentRequests requests in flight, reads and writes together", async () => {
    const server = await standIn({ latencyMs: 40 });
    const github = patClient(server, { maxConcurrentRequests: 3 });
    await Promise.all([
      ...Array.from({ length: 6 }, () => github.listRunners()),
      ...Array.from({ length: 6 }, (_, i) => github.generateJitConfig(jit(`bounded-${i}`))),
    ]);
    expect(server.calls()).toBe(12);
    expect(server.peakInFlight()).toBe(3);
  });

  it("gives each client its own bound (the plugin's default groups are shared by the whole process)", async () => {
    const server = await standIn({ latencyMs: 40 });
    const one = patClient(server, { maxConcurrentRequests: 2 });
    const two = patClient(server, { maxConcurrentRequests: 2 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? one : two).listRunners()));
    expect(server.peakInFlight()).toBe(4);
  });

  it("spaces the starts of writes by minWriteIntervalMs and leaves reads alone", async () => {
    const server = await standIn();
    const github = patClient(server, { minWriteIntervalMs: 150 });
    await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => github.generateJitConfig(jit(`spaced-${i}`))),
      ...Array.from({ length: 4 }, () => github.listRunners()),
    ]);
    const arrivals = (operationId: string) =>
      server.callLog.filter((call) => call.operationId === operationId).map((call) => call.receivedAt);
    const writes = arrivals("actions/generate-runner-jitconfig-for-org");
    expect(writes).toHaveLength(4);
    for (let i = 1; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBeGreaterThanOrEqual(140);
    const reads = arrivals("actions/list-self-hosted-runners-for-org");
    expect(reads).toHaveLength(4);
    expect(Math.max(...reads) - Math.min(...reads)).toBeLessThan(150);
  });

  it("does not space writes by default (the plugin's own default is one write a second)", async () => {
    const server = await standIn();
    const github = patClient(server);
    await Promise.all(Array.from({ length: 5 }, (_, i) => github.generateJitConfig(jit(`unspaced-${i}`))));
    const writes = server.callLog.map((call) => call.receivedAt);
    expect(writes).toHaveLength(5);
    expect(Math.max(...writes) - Math.min(...writes)).toBeLessThan(1_000);
  });

  it.each([0, 1.5, Number.NaN])("rejects maxConcurrentRequests %s before any call", (value) => {
    expect(() =>
      createGitHubApi({
        apiUrl: "http://127.0.0.1:1",
        target: { kind: "org", org: "acme" },
        auth: { kind: "token", token: PAT },
        maxConcurrentRequests: value,
      }),
    ).toThrow(`maxConcurrentRequests must be a positive integer, got ${value}`);
  });

  it("rejects a negative minWriteIntervalMs before any call", () => {
    expect(() =>
      createGitHubApi({
        apiUrl: "http://127.0.0.1:1",
        target: { kind: "org", org: "acme" },
        auth: { kind: "token", token: PAT },
        minWriteIntervalMs: -1,
      }),
    ).toThrow("minWriteIntervalMs must be a number of milliseconds ≥ 0, got -1");
  });
});

describe("GitHub Enterprise Server", () => {
  it("talks to <server>/api/v3", async () => {
    const server = await standIn({ pathPrefix: "/api/v3", spec: "ghes-3.19" });
    const apiUrl = apiUrlFor(server.origin);
    expect(apiUrl).toBe(`${server.origin}/api/v3`);
    expect(apiUrl).toBe(server.url);
    const github = appClient(server, { apiUrl });
    await github.generateJitConfig(jit("ghes-runner"));
    await github.ping();
    expect(server.callLog.map((call) => call.path)).toEqual([
      "/orgs/acme/installation",
      "/app/installations/4242/access_tokens",
      "/orgs/acme/actions/runners/generate-jitconfig",
      "/rate_limit",
    ]);
  });
});
