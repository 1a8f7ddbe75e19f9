import { RequestError } from "@octokit/request-error";
import { z } from "zod";
import { targetName } from "./target.ts";
import type { GitHubAuth, GitHubTarget } from "./types.ts";

/** A failed GitHub API call: names the endpoint, the status GitHub answered and what to check. */
export class GitHubApiError extends Error {
  readonly method: string;
  readonly path: string;
  /** HTTP status, or 0 when no response arrived (network, timeout). */
  readonly status: number;
  readonly hint: string;

  constructor(method: string, path: string, status: number, detail: string, hint: string) {
    const answer = status === 0 ? "no response" : `${status}`;
    super(`GitHub ${method} ${path} → ${answer}: ${detail}${hint ? `. ${hint}` : ""}`);
    this.name = "GitHubApiError";
    this.method = method;
    this.path = path;
    this.status = status;
    this.hint = hint;
  }
}

export interface FailureContext {
  method: string;
  path: string;
  status: number;
  apiUrl: string;
  target: GitHubTarget;
  auth: GitHubAuth["kind"];
}

function permissionNeeded(context: FailureContext): string {
  const { path, target, auth } = context;
  if (path.includes("/hooks/") || path.startsWith("/app/hook")) {
    return auth === "app"
      ? "the App's webhook deliveries are read with the App's JWT; check the App id and private key"
      : `the token needs ${target.kind === "org" ? "admin:org_hook" : "admin:repo_hook"} (classic) or "Webhooks: read and write" (fine-grained), and github.hookId must be the id of the hook that delivers to the scaler`;
  }
  if (path.includes("/actions/jobs") || path.includes("/actions/runs") || path.includes("/repositories")) {
    return auth === "app"
      ? 'the App needs the repository permission "Actions: read" and access to the repositories'
      : 'the token needs "repo" (classic) or "Actions: read" (fine-grained) on the repositories';
  }
  if (target.kind === "org") {
    return auth === "app"
      ? 'the App needs the organization permission "Self-hosted runners: read and write" and must be installed on the organization'
      : 'the token needs "admin:org" (classic) or the organization permission "Self-hosted runners: read and write" (fine-grained)';
  }
  return auth === "app"
    ? 'the App needs the repository permission "Administration: read and write" and must be installed on the repository'
    : 'the token needs "repo" (classic) or the repository permission "Administration: read and write" (fine-grained)';
}

/** What a person should check for a failed call; pure so every branch is testable. */
export function hintFor(context: FailureContext): string {
  const { status, auth, apiUrl } = context;
  if (status === 0)
    return `Check that ${apiUrl} is reachable from the scaler (the address comes from github.url, or github.apiUrl when set; check proxy and DNS)`;
  if (status === 401) {
    return auth === "app"
      ? "Check the App id, the private key (it must belong to this App) and the installation id, and that the scaler's clock is right (App JWTs are time-limited)"
      : "Check the token: it is wrong, expired or revoked";
  }
  if (status === 403) return `Permission denied or rate limited: ${permissionNeeded(context)}`;
  if (status === 404) {
    return `Not found: check the ${targetName(context.target)} exists and is spelled right, and that ${permissionNeeded(context)} (GitHub answers 404 when access is missing)`;
  }
  if (status === 409) return "Conflict: a runner with this name is already registered";
  if (status === 422) return "GitHub rejected the request; the message above says which field";
  if (status === 429)
    return "Rate limited: retries were exhausted; lower the request rate or wait for the limit to reset";
  if (status >= 500)
    return "GitHub had a server error and retries were exhausted; see https://www.githubstatus.com";
  return "";
}

const githubMessage = z.object({ message: z.string() });

/** GitHub's own words for a failed request (its JSON `message`), else what octokit says. */
export function detailOf(error: RequestError): string {
  const body = githubMessage.safeParse(error.response?.data);
  return body.success ? body.data.message : error.message;
}

/** Whether GitHub answered a request with this status (not a network failure octokit reports as 500). */
export function answeredWith(error: unknown, status: number): error is RequestError {
  return error instanceof RequestError && error.response !== undefined && error.status === status;
}

/** A failed octokit request as a GitHubApiError naming the endpoint, the status and what to check. */
export function failureOf(error: unknown, context: Omit<FailureContext, "status">): Error {
  if (!(error instanceof RequestError)) return error instanceof Error ? error : new Error(String(error));
  // @octokit/request reports a request that got no answer (network, timeout) as status 500 without a response.
  const status = error.response ? error.status : 0;
  return new GitHubApiError(
    context.method,
    context.path,
    status,
    detailOf(error),
    hintFor({ ...context, status }),
  );
}
