/**
 * Who each request is sent as. A token: one client authenticated by @octokit/auth-token. A GitHub App
 * (@octokit/auth-app): a client with the App's JWT for /app/* and the installation lookup, and an installation
 * client built once the installation id is known (configured, or looked up on the target once).
 */
import { createAppAuth } from "@octokit/auth-app";
import { createTokenAuth } from "@octokit/auth-token";
import { answeredWith, detailOf, failureOf, GitHubApiError } from "./errors.ts";
import { GitHubOctokit, type GitHubOctokitInstance, type OctokitBase, send } from "./octokit.ts";
import { installationShape, read } from "./shapes.ts";
import { targetName, targetPath } from "./target.ts";
import { createInstallationTokenCache } from "./token-cache.ts";
import type { GitHubAuth, GitHubLog, GitHubTarget } from "./types.ts";

export interface Credentials {
  /** The App's JWT client, or the token client. */
  jwt: GitHubOctokitInstance;
  /** The installation's client (found once), or the token client. */
  installation(): Promise<GitHubOctokitInstance>;
  /** GitHub rejected an installation token: forget it. False when there is none to renew (token auth). */
  renewInstallationToken(): boolean;
}

export interface CredentialsOptions {
  auth: GitHubAuth;
  target: GitHubTarget;
  apiUrl: string;
  base: OctokitBase;
  log: GitHubLog;
  tokenRefreshMarginMs: number;
}

export function createCredentials(options: CredentialsOptions): Credentials {
  const { auth, target, apiUrl, base, log } = options;
  if (auth.kind === "token") {
    // @octokit/core hands a strategy an options object; the token is bound here.
    const octokit = new GitHubOctokit({ ...base.options, authStrategy: () => createTokenAuth(auth.token) });
    return { jwt: octokit, installation: async () => octokit, renewInstallationToken: () => false };
  }

  const tokenCache = createInstallationTokenCache(options.tokenRefreshMarginMs);
  const appOctokit = (installationId?: number) =>
    new GitHubOctokit({
      ...base.options,
      authStrategy: createAppAuth,
      auth: {
        appId: auth.appId,
        privateKey: auth.privateKeyPem,
        cache: tokenCache,
        log: base.options.log,
        ...(installationId === undefined ? {} : { installationId }),
      },
    });
  const jwt = appOctokit();

  async function discoverInstallation(): Promise<GitHubOctokitInstance> {
    if (auth.kind !== "app") throw new Error("not an App");
    if (auth.installationId !== undefined) return appOctokit(auth.installationId);
    const path = `${targetPath(target)}/installation`;
    let data: unknown;
    try {
      ({ data } = await send(jwt, "GET", path));
    } catch (error) {
      if (answeredWith(error, 404)) {
        throw new GitHubApiError(
          "GET",
          path,
          404,
          detailOf(error),
          `The GitHub App ${auth.appId} is not installed on the ${targetName(target)}: install it there, or check the name`,
        );
      }
      throw failureOf(error, { method: "GET", path, apiUrl, target, auth: auth.kind });
    }
    const installationId = read(installationShape, data, `GET ${path}`).id;
    log.debug?.(`GitHub App ${auth.appId} installation ${installationId} found for ${path}`);
    return appOctokit(installationId);
  }

  let installation: Promise<GitHubOctokitInstance> | undefined;
  return {
    jwt,
    installation() {
      installation ??= discoverInstallation().catch((error: unknown) => {
        installation = undefined;
        throw error;
      });
      return installation;
    },
    renewInstallationToken() {
      tokenCache.clear();
      return true;
    },
  };
}
