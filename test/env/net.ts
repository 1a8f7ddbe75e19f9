import { createServer } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("could not allocate a port");
  return address.port;
}

/**
 * Polls `probe` until it resolves true, the daemon exits, or the deadline passes.
 * The error names the daemon and where its log is, because that is the first thing to read.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  { timeoutMs, exited, logFile }: { timeoutMs: number; exited: Promise<unknown>; logFile: string },
): Promise<void> {
  let stopped = false;
  void exited.then(() => {
    stopped = true;
  });
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  let delay = 20;
  while (Date.now() < deadline) {
    if (stopped) throw new Error(`${what} exited while starting; see ${logFile}`);
    try {
      if (await probe()) return;
    } catch (error: unknown) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 250);
  }
  throw new Error(
    `${what} was not ready after ${timeoutMs / 1000} s (last error: ${lastError || "none"}); see ${logFile}`,
  );
}
