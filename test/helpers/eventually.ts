/**
 * Polls `probe` until it returns something other than undefined/false, and returns that. Errors of the probe
 * count as "not yet" (the last one is in the timeout's message) unless `fatal` says waiting can't help.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  {
    timeoutMs = 10_000,
    intervalMs = 50,
    fatal = () => false,
  }: { timeoutMs?: number; intervalMs?: number; fatal?: (error: unknown) => boolean } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (error: unknown) {
      if (fatal(error)) throw error;
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
