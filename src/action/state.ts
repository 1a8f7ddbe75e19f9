import * as core from "@actions/core";

/** What main hands to post. Only present when main found a daemon. */
export interface SetupState {
  /** DOCKER_HOST-style address of the daemon main chose. */
  dockerHost: string;
  /** TLS cert dir when the daemon speaks TLS. */
  certDir: string | undefined;
  tlsVerify: boolean;
}

/** The post step gets it as STATE_dind-setup (older runners without GITHUB_STATE: a `save-state` command). */
const KEY = "dind-setup";

export function saveSetupState(state: SetupState): void {
  core.saveState(KEY, JSON.stringify(state));
}

/** undefined when main did not get as far as a daemon (it failed, or it never ran). */
export function readSetupState(): SetupState | undefined {
  const raw = core.getState(KEY);
  if (raw === "") return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<SetupState>;
    if (typeof parsed.dockerHost !== "string") return undefined;
    return {
      dockerHost: parsed.dockerHost,
      certDir: typeof parsed.certDir === "string" ? parsed.certDir : undefined,
      tlsVerify: parsed.tlsVerify === true,
    };
  } catch {
    return undefined;
  }
}
