// A GitHub App's webhook carries the deliveries of every installation of the App, and anyone can install a
// public App: a delivery is taken only for the configured owner (github.org or github.repo) and, when the
// configuration names one, the configured installation.

export interface ConfiguredOwner {
  org?: string | undefined;
  /** owner/name */
  repo?: string | undefined;
  installationId?: number | undefined;
}

/** Why a delivery is not ours (a fixed set: the `reason` label), or undefined when it is. */
export type ForeignReason = "installation" | "owner";

export function foreignReason(
  delivery: { repository: string; installationId: number | undefined },
  owner: ConfiguredOwner,
): ForeignReason | undefined {
  if (
    owner.installationId !== undefined &&
    delivery.installationId !== undefined &&
    delivery.installationId !== owner.installationId
  ) {
    return "installation";
  }
  // GitHub's account and repository names are case-insensitive.
  const repository = delivery.repository.toLowerCase();
  if (owner.repo !== undefined) return repository === owner.repo.toLowerCase() ? undefined : "owner";
  // The configuration has exactly one of org and repo; without either, nothing is ours.
  return owner.org !== undefined && repository.split("/")[0] === owner.org.toLowerCase()
    ? undefined
    : "owner";
}
