// Native sidecars (init containers with restartPolicy Always) are on by default from Kubernetes 1.29; older
// clusters get a plain sidecar and a termination mechanism. One rule for the CLI, the scaler and the builder.

export type SidecarMode = "native" | "legacy";

export interface ServerVersion {
  major: string;
  minor: string;
}

/**
 * The mode for an apiserver version. Vendors write minors like "29+" (parseInt reads the number); a version that
 * can't be read gets the legacy sidecar, which runs on every cluster, rather than a Pod an old cluster refuses.
 */
export function sidecarModeOf(version: ServerVersion): SidecarMode {
  const major = Number.parseInt(version.major, 10);
  const minor = Number.parseInt(version.minor, 10);
  if (Number.isNaN(major) || Number.isNaN(minor)) return "legacy";
  return major > 1 || (major === 1 && minor >= 29) ? "native" : "legacy";
}

/** The configured setting, resolved: `auto` follows the apiserver, or native when there is none to ask. */
export function sidecarModeFor(setting: "auto" | SidecarMode, version?: ServerVersion): SidecarMode {
  if (setting !== "auto") return setting;
  return version === undefined ? "native" : sidecarModeOf(version);
}
