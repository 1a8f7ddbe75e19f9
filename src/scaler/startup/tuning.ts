// DIND_K8S_TUNING: faster timings for tests and benchmarks than a cluster wants, checked like configuration.
import type { ReconcilerTiming } from "../reconcile/reconciler.ts";
import type { RecoveryTiming } from "../reconcile/recovery.ts";
import { StartupError } from "./startup-error.ts";

export interface Tuning {
  reconciler?: Partial<ReconcilerTiming>;
  recovery?: Partial<RecoveryTiming>;
  lease?: { leaseDurationMs?: number; retryPeriodMs?: number; renewDeadlineMs?: number };
}

/**
 * DIND_K8S_TUNING: JSON with timings for tests and benchmarks that need a faster control loop than a
 * cluster wants ({"reconciler": {"resyncMs": 200}, "recovery": {...}, "lease": {...}}). Every value must
 * be a positive number of milliseconds.
 */
export function parseTuning(text: string | undefined): Tuning {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new StartupError("DIND_K8S_TUNING is not valid JSON");
  }
  const sections = ["reconciler", "recovery", "lease"];
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new StartupError(
      "DIND_K8S_TUNING: expected an object with reconciler, recovery and lease sections",
    );
  }
  for (const [section, values] of Object.entries(parsed)) {
    if (!sections.includes(section)) {
      throw new StartupError(`DIND_K8S_TUNING.${section}: unknown section; expected ${sections.join(", ")}`);
    }
    for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
      if (typeof value !== "number" || !(value > 0)) {
        throw new StartupError(
          `DIND_K8S_TUNING.${section}.${key}: expected a positive number, got ${JSON.stringify(value)}`,
        );
      }
    }
  }
  return parsed as Tuning;
}
