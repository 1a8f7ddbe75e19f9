import { describe, expect, it } from "vitest";
import { apiUrlFor } from "../../../src/scaler/github/api-url.ts";
import { createGitHubApi } from "../../../src/scaler/github/client.ts";
import { hintFor } from "../../../src/scaler/github/errors.ts";
import { deleteOutcomeFor } from "../../../src/scaler/github/outcomes.ts";
import { nextPageUrl } from "../../../src/scaler/github/pagination.ts";
import { clientThrottle } from "../../../src/scaler/github/throttle.ts";
import { jobLabelsMatch } from "../../../src/scaler/model/job-labels.ts";

describe("apiUrlFor", () => {
  it.each([
    ["https://github.com", "https://api.github.com"],
    ["https://github.com/", "https://api.github.com"],
    ["https://api.github.com", "https://api.github.com"],
    ["https://octocorp.ghe.com", "https://api.octocorp.ghe.com"],
    ["https://ghe.example.com", "https://ghe.example.com/api/v3"],
    ["https://ghe.example.com/", "https://ghe.example.com/api/v3"],
    ["https://ghe.example.com/api/v3", "https://ghe.example.com/api/v3"],
    ["https://ghe.example.com:8443", "https://ghe.example.com:8443/api/v3"],
    ["http://127.0.0.1:9000", "http://127.0.0.1:9000/api/v3"],
  ])("%s → %s", (server, api) => {
    expect(apiUrlFor(server)).toBe(api);
  });

  it("rejects what is not an http(s) URL, naming it", () => {
    expect(() => apiUrlFor("github.com")).toThrow(/"github.com" is not a URL/);
    expect(() => apiUrlFor("ftp://ghe.example.com")).toThrow(/must use https/);
  });
});

describe("deleteOutcomeFor", () => {
  it.each([
    [204, "deleted"],
    [404, "not-found"],
    [422, "busy"],
    [500, undefined],
    [403, undefined],
    [401, undefined],
  ])("%i → %s", (status, outcome) => {
    expect(deleteOutcomeFor(status)).toBe(outcome);
  });
});

describe("nextPageUrl", () => {
  it("finds rel=next among the Link relations", () => {
    const link =
      '<https://api.github.com/orgs/a/actions/runners?per_page=100&page=2>; rel="next", <https://api.github.com/orgs/a/actions/runners?per_page=100&page=5>; rel="last"';
    expect(nextPageUrl(link)).toBe("https://api.github.com/orgs/a/actions/runners?per_page=100&page=2");
  });

  it("handles cursor links and their absence", () => {
    expect(nextPageUrl('<https://x/app/hook/deliveries?cursor=v1_123>; rel="next"')).toBe(
      "https://x/app/hook/deliveries?cursor=v1_123",
    );
    expect(
      nextPageUrl('<https://x/r?page=1>; rel="first", <https://x/r?page=3>; rel="prev"'),
    ).toBeUndefined();
    expect(nextPageUrl(undefined)).toBeUndefined();
    expect(nextPageUrl("")).toBeUndefined();
  });
});

describe("jobLabelsMatch", () => {
  it.each([
    [["self-hosted", "dind-k8s"], ["dind-k8s"], true],
    [["DIND-K8S", "Large"], ["dind-k8s", "large"], true],
    [["dind-k8s", "gpu"], ["dind-k8s"], false],
    [["self-hosted"], ["dind-k8s"], false],
    [[], ["dind-k8s"], false],
    [["ubuntu-latest"], ["dind-k8s"], false],
  ])("%j within %j → %s", (job, offered, matches) => {
    expect(jobLabelsMatch(job, offered)).toBe(matches);
  });
});

describe("hintFor", () => {
  const base = { method: "GET", path: "/orgs/acme/actions/runners", apiUrl: "https://api.github.com" };
  const org = { kind: "org", org: "acme" } as const;
  const repo = { kind: "repo", owner: "octo", repo: "app" } as const;

  it("points at reachability when there was no response", () => {
    expect(hintFor({ ...base, status: 0, target: org, auth: "app" })).toMatch(
      /https:\/\/api.github.com is reachable/,
    );
  });

  it("separates App and token credentials on 401", () => {
    expect(hintFor({ ...base, status: 401, target: org, auth: "app" })).toMatch(/App id, the private key/);
    expect(hintFor({ ...base, status: 401, target: org, auth: "token" })).toMatch(
      /wrong, expired or revoked/,
    );
  });

  it("names the permission the runner endpoints need for each target and credential", () => {
    expect(hintFor({ ...base, status: 403, target: org, auth: "app" })).toMatch(
      /Self-hosted runners: read and write/,
    );
    expect(hintFor({ ...base, status: 403, target: org, auth: "token" })).toMatch(/admin:org/);
    expect(hintFor({ ...base, status: 404, target: repo, auth: "app" })).toMatch(
      /repository "octo\/app" exists.*Administration: read and write/,
    );
  });

  it("names the hook permission for delivery endpoints", () => {
    const hook = { ...base, path: "/orgs/acme/hooks/5/deliveries" };
    expect(hintFor({ ...hook, status: 404, target: org, auth: "token" })).toMatch(
      /admin:org_hook.*github.hookId/,
    );
  });

  it("names Actions: read for the audit endpoints", () => {
    const runs = { ...base, path: "/repos/acme/app/actions/runs" };
    expect(hintFor({ ...runs, status: 403, target: org, auth: "app" })).toMatch(/Actions: read/);
  });

  it("explains conflicts, validation, rate limits and server errors", () => {
    expect(hintFor({ ...base, status: 409, target: org, auth: "app" })).toMatch(/already registered/);
    expect(hintFor({ ...base, status: 422, target: org, auth: "app" })).toMatch(/rejected/);
    expect(hintFor({ ...base, status: 429, target: org, auth: "app" })).toMatch(/Rate limited/);
    expect(hintFor({ ...base, status: 502, target: org, auth: "app" })).toMatch(/githubstatus/);
  });
});

describe("clientThrottle's rate-limit answer", () => {
  const settings = {
    maxConcurrentRequests: 2,
    minWriteIntervalMs: 0,
    rateLimitBaseMs: 1,
    rateLimitRetries: 3,
    maxRateLimitWaitS: 60,
    warn: () => {},
  };
  const request = { method: "GET", url: "/orgs/acme/actions/runners" };

  // The plugin passes its full request options; the answer reads only method and url.
  type Answer = (after: number, req: typeof request, octokit: unknown, retry: number) => boolean;

  it("waits a limit out while running, gives up once the client is stopping or the wait is too long", () => {
    let stopping = false;
    const throttle = clientThrottle({ ...settings, stopped: () => stopping });
    const primary = throttle.onRateLimit as unknown as Answer;
    const secondary = throttle.onSecondaryRateLimit as unknown as Answer;
    expect(primary(10, request, undefined, 0)).toBe(true);
    expect(primary(61, request, undefined, 0)).toBe(false);
    expect(primary(10, request, undefined, 3)).toBe(false);
    stopping = true;
    expect(primary(10, request, undefined, 0)).toBe(false);
    expect(secondary(10, request, undefined, 0)).toBe(false);
  });
});

describe("the client sends credentials only over https, or http to loopback", () => {
  const client = (apiUrl: string) => () =>
    createGitHubApi({
      apiUrl,
      target: { kind: "org", org: "acme" },
      auth: { kind: "token", token: "ghp_x" },
      log: { warn: () => {} },
    });

  it.each([
    "https://api.github.com",
    "http://127.0.0.1:3000",
    "http://localhost:3000/api/v3",
    "http://[::1]:3000",
  ])("takes %s", (url) => {
    expect(client(url)).not.toThrow();
  });

  it.each(["http://10.0.0.7:8080", "http://api.github.com", "ftp://127.0.0.1"])(
    "refuses %s before any call",
    (url) => {
      expect(client(url)).toThrow(/would send the GitHub credentials in clear text: use https:\/\//);
    },
  );
});

describe("useCredentials: rotated credentials, checked before they replace the ones in use", () => {
  const tokenClient = () =>
    createGitHubApi({
      apiUrl: "http://127.0.0.1:1",
      target: { kind: "org", org: "acme" },
      auth: { kind: "token", token: "ghp_x" },
      log: { warn: () => {} },
    });

  it("takes another token", () => {
    expect(() => tokenClient().useCredentials({ kind: "token", token: "ghp_y" })).not.toThrow();
  });

  it.each([
    [{ kind: "token" as const, token: " " }, "GitHub token is empty"],
    [
      { kind: "app" as const, appId: 1, privateKeyPem: "not a key" },
      "got a GitHub App key where the scaler started with a token; switching between them needs a restart",
    ],
  ])("refuses %j", (auth, message) => {
    expect(() => tokenClient().useCredentials(auth)).toThrow(message);
  });
});
