import type { GitHubTarget } from "./types.ts";

/** The target as the configuration names it: github.org, or github.repo as owner/name (validated there). */
export function targetFromConfig(github: {
  org?: string | undefined;
  repo?: string | undefined;
}): GitHubTarget {
  if (github.org) return { kind: "org", org: github.org };
  const [owner = "", repo = ""] = (github.repo ?? "").split("/");
  return { kind: "repo", owner, repo };
}

/** The REST path of the organization or repository the runners are registered with. */
export function targetPath(target: GitHubTarget): string {
  return target.kind === "org"
    ? `/orgs/${encodeURIComponent(target.org)}`
    : `/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}`;
}

/** The REST path of an `owner/name` repository. */
export function repoPath(repo: string): string {
  const [owner, name, ...rest] = repo.split("/");
  if (!owner || !name || rest.length > 0) throw new Error(`"${repo}" is not an owner/name repository`);
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

/** `organization "acme"` / `repository "octo/app"`, as messages name the target. */
export function targetName(target: GitHubTarget): string {
  return target.kind === "org"
    ? `organization "${target.org}"`
    : `repository "${target.owner}/${target.repo}"`;
}
