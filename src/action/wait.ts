import { describeEndpoint, type Endpoint } from "../docker/endpoint.ts";
import { DockerApiError, hintFor } from "../docker/errors.ts";

export interface Backoff {
  initialMs: number;
  factor: number;
  maxMs: number;
}

/**
 * Start at a few ms so a daemon that comes up right after us is seen at once; cap at 50 ms. A daemon that
 * already listens but is still initialising holds a request in its accept queue and answers it the moment it
 * serves; but dockerd's socket also refuses connections for a while as it starts, and a try refused then sleeps
 * out the cap. With 250 ms the action saw a starting daemon 15–20 ms after it served in half the starts and
 * 75–180 ms after in the others (`npm run bench -- action`); 50 ms bounds that, for 20 failed connects a
 * second on a socket that isn't there yet, a few syscalls each.
 */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 2, factor: 2, maxMs: 50 };
export const DEFAULT_TRY_TIMEOUT_MS = 2_000;
export const DEFAULT_PROGRESS_EVERY_MS = 5_000;

export type Probe = (
  endpoint: Endpoint,
  options: { timeoutMs: number; signal: AbortSignal },
) => Promise<void>;

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    }),
};

export interface WaitOptions {
  /** Overall deadline, from the call. */
  timeoutMs: number;
  probe: Probe;
  tryTimeoutMs?: number;
  backoff?: Backoff;
  progressEveryMs?: number;
  onProgress?: (line: string) => void;
  clock?: Clock;
}

export interface EndpointAttempts {
  endpoint: Endpoint;
  tries: number;
  lastError: DockerApiError | undefined;
}

export type WaitResult =
  | { ready: true; endpoint: Endpoint; waitedMs: number; attempts: EndpointAttempts[] }
  | { ready: false; waitedMs: number; attempts: EndpointAttempts[] };

function asDockerError(error: unknown): DockerApiError {
  if (error instanceof DockerApiError) return error;
  return new DockerApiError("other", error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

/**
 * Probes every endpoint concurrently, each with its own backoff, until one answers or the deadline
 * passes. The first endpoint to answer wins and the others stop at once.
 */
export async function waitForDaemon(
  endpoints: readonly Endpoint[],
  options: WaitOptions,
): Promise<WaitResult> {
  const clock = options.clock ?? realClock;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const tryTimeoutMs = options.tryTimeoutMs ?? DEFAULT_TRY_TIMEOUT_MS;
  const progressEveryMs = options.progressEveryMs ?? DEFAULT_PROGRESS_EVERY_MS;
  const start = clock.now();
  const deadline = start + options.timeoutMs;
  const stop = new AbortController();
  const attempts: EndpointAttempts[] = endpoints.map((endpoint) => ({
    endpoint,
    tries: 0,
    lastError: undefined,
  }));
  let winner: Endpoint | undefined;
  // Time-driven, not per try: a daemon that holds each try for its whole timeout must still get a line.
  const reportProgress = async (): Promise<void> => {
    if (!options.onProgress) return;
    for (let at = start + progressEveryMs; at < deadline; at += progressEveryMs) {
      const sleepMs = at - clock.now();
      if (sleepMs > 0) await clock.sleep(sleepMs, stop.signal);
      if (stop.signal.aborted) return;
      options.onProgress(formatProgress(attempts, clock.now() - start, options.timeoutMs));
    }
  };

  const pollOne = async (attempt: EndpointAttempts): Promise<void> => {
    let delayMs = backoff.initialMs;
    while (!stop.signal.aborted) {
      const tryStart = clock.now();
      const remaining = deadline - tryStart;
      if (remaining <= 0) return;
      attempt.tries++;
      const timeoutMs = Math.max(1, Math.min(tryTimeoutMs, remaining));
      try {
        await options.probe(attempt.endpoint, { timeoutMs, signal: stop.signal });
        if (winner === undefined) winner = attempt.endpoint;
        stop.abort();
        return;
      } catch (error) {
        if (stop.signal.aborted) return;
        const dockerError = asDockerError(error);
        // A try cut short by the deadline says nothing about the daemon; keep the error that does.
        const cutShort = dockerError.kind === "timeout" && timeoutMs < tryTimeoutMs;
        if (!cutShort || attempt.lastError === undefined) attempt.lastError = dockerError;
      }
      // The delay counts from the start of the try: after a try that itself waited (a timeout), go again at once.
      const now = clock.now();
      const sleepMs = Math.min(tryStart + delayMs, deadline) - now;
      if (sleepMs > 0) await clock.sleep(sleepMs, stop.signal);
      delayMs = Math.min(delayMs * backoff.factor, backoff.maxMs);
    }
  };

  const progress = reportProgress();
  await Promise.all(attempts.map(pollOne));
  stop.abort();
  await progress;
  const waitedMs = Math.max(0, clock.now() - start);
  if (winner !== undefined) return { ready: true, endpoint: winner, waitedMs, attempts };
  return { ready: false, waitedMs, attempts };
}

function lastErrorWords(attempt: EndpointAttempts): string {
  return attempt.lastError?.message ?? "not tried yet";
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The line printed every few seconds while waiting. */
export function formatProgress(
  attempts: readonly EndpointAttempts[],
  elapsedMs: number,
  timeoutMs: number,
): string {
  const parts = attempts.map((attempt) => `${attempt.endpoint.url}: ${lastErrorWords(attempt)}`);
  return `Still waiting for the Docker daemon (${seconds(elapsedMs)} of ${seconds(timeoutMs)}): ${parts.join("; ")}`;
}

/** The single failure message: every endpoint with its last error, then what to check. */
export function formatFailure(attempts: readonly EndpointAttempts[], timeoutMs: number): string {
  const lines = [`No Docker daemon answered within ${seconds(timeoutMs)}.`];
  for (const attempt of attempts) {
    const tries = attempt.tries === 1 ? "1 try" : `${attempt.tries} tries`;
    lines.push(`  ${describeEndpoint(attempt.endpoint)}: ${lastErrorWords(attempt)} (${tries})`);
  }
  const hints = new Set<string>();
  for (const attempt of attempts) {
    const hint = hintFor(attempt.lastError?.kind ?? "other", attempt.endpoint);
    if (hint) hints.add(hint);
  }
  lines.push("Check:");
  for (const hint of hints) lines.push(`  - ${hint}`);
  lines.push(
    "  - that this job runs on a runner with a Docker daemon; set the docker-host input when it is not one of the above",
  );
  return lines.join("\n");
}
