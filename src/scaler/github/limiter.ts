/**
 * Small stand-ins for the Bottleneck groups @octokit/plugin-throttling schedules through. Its defaults are
 * process-wide (shared by every Octokit in the process) and space writes one second apart, which would cap runner
 * releases at one per second; these keep the plugin's retry-on-rate-limit logic but make concurrency and write
 * spacing options of our client. The plugin only calls `group.key(id).schedule(jobOptions, fn, ...args)`.
 */
export interface ScheduleGroup {
  key(id: string): Scheduler;
}

export interface Scheduler {
  schedule<A extends unknown[], R>(
    jobOptions: unknown,
    task: (...args: A) => Promise<R>,
    ...args: A
  ): Promise<R>;
}

/** At most `maxConcurrent` tasks run at once; the rest wait in arrival order. */
export function concurrencyGroup(maxConcurrent: number): ScheduleGroup {
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new Error(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
  }
  let running = 0;
  const waiting: (() => void)[] = [];
  const acquire = async (): Promise<void> => {
    if (running < maxConcurrent) {
      running += 1;
      return;
    }
    // The slot is handed over by release(), so `running` stays counted.
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };
  const scheduler: Scheduler = {
    async schedule(_jobOptions, task, ...args) {
      await acquire();
      try {
        return await task(...args);
      } finally {
        release();
      }
    },
  };
  return { key: () => scheduler };
}

/** Task starts are at least `minIntervalMs` apart (GitHub asks for spacing between content-creating requests). */
export function spacingGroup(minIntervalMs: number): ScheduleGroup {
  let nextStart = 0;
  const scheduler: Scheduler = {
    async schedule(_jobOptions, task, ...args) {
      const now = Date.now();
      const start = Math.max(now, nextStart);
      nextStart = start + minIntervalMs;
      if (start > now) await new Promise((resolve) => setTimeout(resolve, start - now));
      return task(...args);
    },
  };
  return { key: () => scheduler };
}
