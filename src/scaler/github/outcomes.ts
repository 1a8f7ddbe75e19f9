import type { DeleteRunnerOutcome } from "./types.ts";

/**
 * The idempotent outcomes of deregistering a runner, in one place: 204 deleted; 404 already gone (a repeated
 * cleanup, or GitHub removed the ephemeral runner after its job); 422 the runner is running a job — the arbiter
 * the reconciler uses to tell a busy runner from an idle one. Any other status is a failure (undefined).
 */
export function deleteOutcomeFor(status: number): DeleteRunnerOutcome | undefined {
  if (status === 204 || status === 200) return "deleted";
  if (status === 404) return "not-found";
  if (status === 422) return "busy";
  return undefined;
}
