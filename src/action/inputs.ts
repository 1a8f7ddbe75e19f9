import * as core from "@actions/core";

export interface Inputs {
  /** "" when not given: then $DOCKER_HOST or the well-known endpoints are used. */
  dockerHost: string;
  timeoutMs: number;
  /** "" when no docker context should be created. */
  context: string;
}

export const DEFAULT_TIMEOUT_SECONDS = 120;

export class InputError extends Error {
  override name = "InputError";
}

// The docker CLI's own rule for context names; "default" is built in and cannot be created.
const CONTEXT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;

/** Validates raw input strings; pure so the rules are testable without an environment. */
export function parseInputs(raw: { dockerHost: string; timeout: string; context: string }): Inputs {
  const timeoutText = raw.timeout.trim();
  const timeoutSeconds = timeoutText === "" ? DEFAULT_TIMEOUT_SECONDS : Number(timeoutText);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new InputError(
      `input timeout must be a positive number of seconds (e.g. "120"), got "${raw.timeout}"`,
    );
  }
  const context = raw.context.trim();
  if (context !== "" && (!CONTEXT_NAME.test(context) || context === "default")) {
    throw new InputError(
      `input context "${context}" is not a valid docker context name: use letters, digits and _.+- (at least 2 characters, not "default")`,
    );
  }
  return { dockerHost: raw.dockerHost.trim(), timeoutMs: Math.round(timeoutSeconds * 1000), context };
}

/** The only place that reads action inputs (INPUT_DOCKER-HOST … as the runner names them). */
export function readInputs(): Inputs {
  return parseInputs({
    dockerHost: core.getInput("docker-host"),
    timeout: core.getInput("timeout"),
    context: core.getInput("context"),
  });
}
