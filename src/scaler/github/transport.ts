/**
 * One API call with the right credentials, and pagination over rel="next" links. Failures become a
 * GitHubApiError naming the endpoint, the status and what to check.
 */
import type { z } from "zod";
import type { Credentials } from "./credentials.ts";
import { answeredWith, failureOf } from "./errors.ts";
import type { Reply } from "./octokit.ts";
import { send } from "./octokit.ts";
import { nextPageUrl } from "./pagination.ts";
import { read } from "./shapes.ts";
import type { GitHubAuth, GitHubLog, GitHubTarget } from "./types.ts";

/** "jwt": as the App itself (its hook's deliveries); "installation": everything else. Token auth: the token. */
export type Via = "installation" | "jwt";

interface PageOptions<T> {
  via?: Via;
  /** Read the next page only if this says so about the last one. */
  more?: (page: T[]) => boolean;
}

export interface Transport {
  call(method: string, path: string, params?: Record<string, unknown>, via?: Via): Promise<Reply>;
  /** Every item of every page (100 a page) until there is no next page or `more` says stop. */
  paginate<S extends z.ZodType, T>(
    path: string,
    params: Record<string, unknown>,
    shape: S,
    items: (page: z.output<S>) => T[],
    options?: PageOptions<T>,
  ): Promise<T[]>;
}

export interface TransportOptions {
  credentials: Credentials;
  apiUrl: string;
  target: GitHubTarget;
  auth: GitHubAuth["kind"];
  log: GitHubLog;
}

export function createTransport({ credentials, apiUrl, target, auth, log }: TransportOptions): Transport {
  const failure = (method: string, path: string, error: unknown) =>
    failureOf(error, { method, path, apiUrl, target, auth });

  async function call(
    method: string,
    path: string,
    params: Record<string, unknown> = {},
    via: Via = "installation",
  ): Promise<Reply> {
    const octokit = via === "jwt" ? credentials.jwt : await credentials.installation();
    try {
      return await send(octokit, method, path, params);
    } catch (error) {
      // An installation token GitHub no longer accepts (revoked, expired early): fetch a new one, once.
      if (via === "installation" && answeredWith(error, 401) && credentials.renewInstallationToken()) {
        log.warn(`GitHub rejected the installation token on ${method} ${path}; fetching a new one`);
        try {
          return await send(octokit, method, path, params);
        } catch (again) {
          throw failure(method, path, again);
        }
      }
      throw failure(method, path, error);
    }
  }

  return {
    call,
    async paginate(path, params, shape, items, options = {}) {
      const { via = "installation", more = () => true } = options;
      const all: ReturnType<typeof items> = [];
      let reply = await call("GET", path, { per_page: 100, ...params }, via);
      for (;;) {
        const page = items(read(shape, reply.data, `GET ${path}`));
        all.push(...page);
        const next = nextPageUrl(typeof reply.headers.link === "string" ? reply.headers.link : undefined);
        if (!next || page.length === 0 || !more(page)) return all;
        // Only the link's query is taken: the credentials never follow a link to another host, and a proxy or a
        // GHES behind another name keeps working.
        reply = await call("GET", `${path}${new URL(next).search}`, {}, via);
      }
    },
  };
}
