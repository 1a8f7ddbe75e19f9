/**
 * The setup the GitHub client tests share: an App key pair, stand-ins that are closed after each test once it is
 * checked that every request and answer matched GitHub's OpenAPI description, and clients for the App and a PAT
 * with short retry and rate-limit waits.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterEach, expect } from "vitest";
import {
  createGitHubApi,
  type GitHubApi,
  type GitHubClientOptions,
} from "../../../src/scaler/github/client.ts";
import { type GitHubStandIn, type GitHubStandInOptions, startGitHubStandIn } from "../github-standin.ts";

export interface GitHubFixture {
  appId: number;
  token: string;
  keys: { publicKey: string; privateKey: string };
  standIn(options?: GitHubStandInOptions): Promise<GitHubStandIn>;
  appClient(server: GitHubStandIn, extra?: Partial<GitHubClientOptions>): GitHubApi;
  patClient(server: GitHubStandIn, extra?: Partial<GitHubClientOptions>): GitHubApi;
}

/** Call at the top of a test file: registers the afterEach that checks and closes the stand-ins. */
export function useGitHubStandIns({
  appId,
  token,
  waitBaseMs = 5,
}: {
  appId: number;
  token: string;
  /** Retry and rate-limit waits: the plugins' base values, so those paths run in milliseconds. */
  waitBaseMs?: number;
}): GitHubFixture {
  const keys = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const standIns: GitHubStandIn[] = [];
  afterEach(async () => {
    for (const standIn of standIns.splice(0)) {
      // Every request the client made and every answer the stand-in gave matched GitHub's OpenAPI description.
      expect(standIn.violations).toEqual([]);
      await standIn.close();
    }
  });
  const client =
    (auth: GitHubClientOptions["auth"]) =>
    (server: GitHubStandIn, extra: Partial<GitHubClientOptions> = {}): GitHubApi =>
      createGitHubApi({
        apiUrl: server.url,
        target: { kind: "org", org: "acme" },
        auth,
        retryBaseMs: waitBaseMs,
        rateLimitBaseMs: waitBaseMs,
        log: { warn: () => {} },
        ...extra,
      });
  return {
    appId,
    token,
    keys,
    async standIn(options = {}) {
      const server = await startGitHubStandIn({ appId, appPublicKeyPem: keys.publicKey, token, ...options });
      standIns.push(server);
      return server;
    },
    appClient: client({ kind: "app", appId, privateKeyPem: keys.privateKey }),
    patClient: client({ kind: "token", token }),
  };
}
