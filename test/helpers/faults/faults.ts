// Scaler builds with a known bug, for tests that prove an assertion catches it: each fault replaces one piece of
// source text as the module loads (hooks.ts), in a child process only. The product carries no switch for them.
import { join } from "node:path";

export interface Fault {
  name: string;
  /** Path from the repository root, e.g. src/scaler/plan/plan-set.ts. */
  file: string;
  find: string;
  replace: string;
}

/** Arguments for `node` and the environment that start a process with the faults injected. */
export function withFaults(faults: readonly Fault[]): { execArgv: string[]; env: Record<string, string> } {
  if (faults.length === 0) return { execArgv: [], env: {} };
  return {
    execArgv: ["--import", join(import.meta.dirname, "hooks.ts")],
    env: { DIND_K8S_FAULTS: JSON.stringify(faults) },
  };
}
