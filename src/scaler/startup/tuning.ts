// The configuration's `tuning:` (validated with the rest of the file) as the timings the reconciler, the recovery
// sweeps and the leader election take. Nothing else changes timing: no environment variable does.
import type { Config } from "../config/load.ts";
import type { PollTiming } from "../reconcile/poll.ts";
import type { ReconcilerTiming } from "../reconcile/reconciler.ts";
import type { RecoveryTiming } from "../reconcile/recovery.ts";

export interface Tuning {
  reconciler?: Partial<ReconcilerTiming>;
  recovery?: Partial<RecoveryTiming>;
  lease?: { leaseDurationMs?: number; retryPeriodMs?: number; renewDeadlineMs?: number };
  secrets?: { reloadMs?: number };
  poll?: Partial<PollTiming>;
}

/** The keys that are set (YAML's absent keys come out of the schema as undefined). */
function given<T extends object>(
  values: T | undefined,
): { [K in keyof T]?: Exclude<T[K], undefined> } | undefined {
  if (values === undefined) return undefined;
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

export function tuningOf(config: Config): Tuning {
  const tuning = config.tuning;
  const reconciler: Partial<ReconcilerTiming> | undefined = given(tuning?.reconciler);
  const recovery: Partial<RecoveryTiming> | undefined = given(tuning?.recovery);
  const lease = given(tuning?.lease);
  const secrets = given(tuning?.secrets);
  const poll: Partial<PollTiming> | undefined = given(tuning?.poll);
  return {
    ...(poll ? { poll } : {}),
    ...(secrets ? { secrets } : {}),
    ...(reconciler ? { reconciler } : {}),
    ...(recovery ? { recovery } : {}),
    ...(lease ? { lease } : {}),
  };
}
