import { RequestError } from "@octokit/request-error";
import { describe, expect, it } from "vitest";
import { answeredWith, failureOf, GitHubApiError } from "../../../src/scaler/github/errors.ts";

const context = {
  method: "GET",
  path: "/orgs/acme/actions/runners",
  apiUrl: "https://api.github.com",
  target: { kind: "org", org: "acme" },
  auth: "token",
} as const;
const request = {
  method: "GET",
  url: "https://api.github.com/orgs/acme/actions/runners",
  headers: {},
} as const;
const answered = (status: number, data: unknown) =>
  new RequestError(`HTTP ${status}`, status, {
    request,
    response: { status, url: request.url, headers: {}, data },
  });

describe("failureOf (octokit's RequestError → GitHubApiError)", () => {
  it("names the endpoint and status, with GitHub's own message and what to check", () => {
    const failure = failureOf(answered(401, { message: "Bad credentials" }), context);
    expect(failure).toBeInstanceOf(GitHubApiError);
    expect(failure.message).toBe(
      "GitHub GET /orgs/acme/actions/runners → 401: Bad credentials. Check the token: it is wrong, expired or revoked",
    );
    expect((failure as GitHubApiError).status).toBe(401);
  });

  it("falls back to octokit's message when the body has none (a proxy's HTML page)", () => {
    const failure = failureOf(answered(502, "<html>bad gateway</html>"), context) as GitHubApiError;
    expect(failure.status).toBe(502);
    expect(failure.message).toMatch(/→ 502: HTTP 502\. GitHub had a server error/);
  });

  it("reports a request that got no answer (octokit says 500 without a response) as status 0", () => {
    const failure = failureOf(new RequestError("connect ECONNREFUSED", 500, { request }), context);
    expect((failure as GitHubApiError).status).toBe(0);
    expect(failure.message).toBe(
      "GitHub GET /orgs/acme/actions/runners → no response: connect ECONNREFUSED. Check that https://api.github.com is reachable from the scaler (the address comes from github.url, or github.apiUrl when set; check proxy and DNS)",
    );
  });

  it("passes other errors through", () => {
    const other = new TypeError("not octokit's");
    expect(failureOf(other, context)).toBe(other);
    expect(failureOf("text", context).message).toBe("text");
  });

  it("answeredWith tells a status GitHub answered from the same status made up by octokit", () => {
    expect(answeredWith(answered(404, {}), 404)).toBe(true);
    expect(answeredWith(answered(404, {}), 401)).toBe(false);
    expect(answeredWith(new RequestError("timeout", 500, { request }), 500)).toBe(false);
    // Duck-typed look-alikes are not octokit's errors.
    expect(answeredWith({ status: 404, response: {} }, 404)).toBe(false);
  });
});
