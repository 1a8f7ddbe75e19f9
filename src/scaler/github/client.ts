/**
 * The scaler's GitHub client. This folder is the only one that imports octokit; everything else codes against
 * GitHubApi, so a version bump touches this folder and tests can hand in a fake. Built from its parts, each from
 * its collaborators:
 *   octokit.ts      Octokit with throttling (throttle.ts) and retries, request timeout, call counters
 *   credentials.ts  token or App (JWT + installation) auth
 *   transport.ts    one call / every page, failures as GitHubApiError (errors.ts), shapes read with zod (shapes.ts)
 *   runners.ts      JIT registration, deregistration, the runner list, runner groups
 *   deliveries.ts   failed webhook deliveries and redelivery
 *   job-audit.ts    queued jobs across the target's repositories, one job's status
 */
import { createPrivateKey } from "node:crypto";
import { cleartextProblem } from "../model/cleartext-url.ts";
import { type Credentials, createCredentials } from "./credentials.ts";
import { createDeliveries } from "./deliveries.ts";
import { createJobAudit } from "./job-audit.ts";
import { octokitBase } from "./octokit.ts";
import { createRunners } from "./runners.ts";
import { checkThrottleSettings } from "./throttle.ts";
import { createTransport } from "./transport.ts";
import type { GitHubApi, GitHubAuth, GitHubClientOptions, GitHubLog } from "./types.ts";

export { apiUrlFor } from "./api-url.ts";
export { GitHubApiError } from "./errors.ts";
export type * from "./types.ts";

function checkPrivateKey(pem: string): void {
  try {
    const key = createPrivateKey(pem.replace(/\\n/g, "\n"));
    if (key.asymmetricKeyType !== "rsa") {
      throw new Error(`it is a ${key.asymmetricKeyType} key, GitHub App keys are RSA`);
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `The GitHub App private key is not a usable PEM RSA private key (${reason}); use the .pem file GitHub generated for the App`,
    );
  }
}

/** Everything that can be wrong with the options is said before any call. */
function validateOptions(options: GitHubClientOptions): void {
  try {
    new URL(options.apiUrl);
  } catch {
    throw new Error(`GitHub API URL "${options.apiUrl}" is not a URL`);
  }
  const cleartext = cleartextProblem(options.apiUrl);
  if (cleartext) throw new Error(`GitHub API URL: ${cleartext}`);
  if (options.auth.kind === "app") {
    if (!Number.isInteger(options.auth.appId) || options.auth.appId <= 0) {
      throw new Error(`GitHub App id must be a positive integer, got ${options.auth.appId}`);
    }
    checkPrivateKey(options.auth.privateKeyPem);
  } else if (options.auth.token.trim() === "") {
    throw new Error("GitHub token is empty");
  }
  checkThrottleSettings({
    maxConcurrentRequests: options.maxConcurrentRequests ?? 10,
    minWriteIntervalMs: options.minWriteIntervalMs ?? 0,
  });
}

export function createGitHubApi(options: GitHubClientOptions): GitHubApi {
  validateOptions(options);
  const { target, auth } = options;
  const apiUrl = options.apiUrl.replace(/\/+$/, "");
  const log: GitHubLog = options.log ?? { warn: (message) => console.warn(message) };
  const base = octokitBase(options, log);
  const credentialsFor = (given: GitHubAuth) =>
    createCredentials({
      auth: given,
      target,
      apiUrl,
      base,
      log,
      tokenRefreshMarginMs: options.tokenRefreshMarginMs ?? 5 * 60_000,
    });
  let current = credentialsFor(auth);
  // The transport asks for the credentials on each call, so rotated ones take over from the next call.
  const credentials: Credentials = {
    get jwt() {
      return current.jwt;
    },
    installation: () => current.installation(),
    renewInstallationToken: () => current.renewInstallationToken(),
  };
  const transport = createTransport({ credentials, apiUrl, target, auth: auth.kind, log });
  return {
    ...createRunners({ transport, target, log }),
    ...createDeliveries({ transport, target, auth: auth.kind, hookId: options.hookId }),
    ...createJobAudit({
      transport,
      target,
      auth: auth.kind,
      auditWindowMs: options.auditWindowMs ?? 24 * 60 * 60 * 1000,
    }),
    async ping() {
      await transport.call("GET", "/rate_limit");
    },
    rateLimitRemaining: base.rateLimitRemaining,
    callCount: base.calls,
    useCredentials(next) {
      if (next.kind !== auth.kind) {
        throw new Error(
          `GitHub credentials: got a ${next.kind === "app" ? "GitHub App key" : "token"} where the scaler started with a ${auth.kind === "app" ? "GitHub App key" : "token"}; switching between them needs a restart`,
        );
      }
      if (next.kind === "app") checkPrivateKey(next.privateKeyPem);
      else if (next.token.trim() === "") throw new Error("GitHub token is empty");
      current = credentialsFor(next);
    },
  };
}
