// Is a dependency reachable? Probed in the background and reported as a gauge, and a log line and an Event
// (the caller's onChange) when it changes:
// the scaler's readiness says only what intake needs, so GitHub's reachability is told here, not on /readyz.
import type { Logger } from "./log.ts";

export interface ReachabilityOptions {
  /** Its name in log lines, e.g. "GitHub". */
  what: string;
  /** Resolves when it answers; rejects with what went wrong. */
  probe: () => Promise<void>;
  intervalMs: number;
  /** Told 1 (reachable) or 0 after each probe: a gauge's set. */
  report: (value: 0 | 1) => void;
  /** Told once per change (lost, then back): e.g. a Kubernetes Event for `kubectl get events`. */
  onChange?: (reachable: boolean, problem: string | undefined) => void;
  log: Logger;
}

export interface Reachability {
  /** Resolves once the probe in flight (if any) has ended; no probe starts after. */
  stop(): Promise<void>;
}

export function watchReachability({
  what,
  probe,
  intervalMs,
  report,
  onChange,
  log,
}: ReachabilityOptions): Reachability {
  let reachable: boolean | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const check = async () => {
    let problem: string | undefined;
    try {
      await probe();
    } catch (error: unknown) {
      problem = error instanceof Error ? error.message : String(error);
    }
    if (stopped) return;
    report(problem === undefined ? 1 : 0);
    // One line per change, not per probe: an outage of hours is two lines.
    if (problem !== undefined && reachable !== false) {
      log.warn(`${what} unreachable; intake goes on, the reconciler retries with backoff`, {
        error: problem,
      });
    } else if (problem === undefined && reachable === false) {
      log.info(`${what} reachable again`);
    }
    if (problem !== undefined && reachable !== false) onChange?.(false, problem);
    else if (problem === undefined && reachable === false) onChange?.(true, undefined);
    reachable = problem === undefined;
    timer = setTimeout(() => {
      running = check();
    }, intervalMs);
    timer.unref();
  };
  running = check();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
