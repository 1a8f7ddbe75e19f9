// Secrets as Kubernetes keeps them: a mounted Secret's file changes in place when the Secret is updated (the
// kubelet swaps a symlink), so the files are re-read every `reloadMs` and a rotation needs no restart. Log lines
// say which secret and where it came from, never what it is.
import type { Config } from "../config/load.ts";
import type { GitHubAuth } from "../github/types.ts";
import type { Logger } from "../observe/log.ts";
import { readGitHubAuth, readWebhookSecrets } from "./secrets.ts";

/** The kubelet syncs a changed Secret into the Pod within about a minute; re-reading more often costs nothing. */
export const SECRET_RELOAD_MS = 10_000;

type Read = (path: string) => Promise<string>;

interface ReloadOptions {
  log: Logger;
  reloadMs?: number;
}

export interface Reloading<T> {
  /** The current value: the same object until the file's contents change. */
  current(): T;
  stop(): void;
}

/**
 * Re-reads a secret every reloadMs. A change is handed to `accept` (which may refuse it by throwing: the value read
 * before stays) and logged once; a failed read keeps the value read before, with one warning per outage.
 */
function reloading<T>(
  initial: T,
  load: () => Promise<T>,
  same: (a: T, b: T) => boolean,
  {
    what,
    file,
    log,
    reloadMs = SECRET_RELOAD_MS,
    accept = () => {},
    details = () => ({}),
  }: ReloadOptions & {
    what: string;
    file: string;
    accept?: (next: T) => void;
    /** What may be said about a value in a log line (a count, never the secret). */
    details?: (next: T) => Record<string, unknown>;
  },
): Reloading<T> {
  let value = initial;
  let failing = false;
  let reading = false;
  const reload = async () => {
    if (reading) return;
    reading = true;
    try {
      const next = await load();
      if (!same(next, value)) {
        accept(next);
        value = next;
        log.info(`${what} re-read: the file changed`, { file, ...details(next) });
      } else if (failing) {
        log.info(`${what} readable again; unchanged`, { file });
      }
      failing = false;
    } catch (error: unknown) {
      // Mid-swap, a Secret emptied by mistake, or a key that isn't one: keep what works.
      if (!failing) {
        log.warn(`could not re-read the ${what}; keeping the one read before`, {
          file,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      failing = true;
    } finally {
      reading = false;
    }
  };
  const timer = setInterval(() => void reload(), reloadMs);
  timer.unref();
  return { current: () => value, stop: () => clearInterval(timer) };
}

const fixed = <T>(value: T): Reloading<T> => ({ current: () => value, stop() {} });

/** The webhook secrets (the new one first, the old one second while rotating), re-read from their file. */
export async function webhookSecretSource(
  config: Config,
  env: NodeJS.ProcessEnv,
  read: Read,
  options: ReloadOptions,
): Promise<Reloading<readonly string[]>> {
  const secrets: readonly string[] = await readWebhookSecrets(config, env, read);
  const file = config.github.webhookSecretFile;
  // From the environment: fixed for the life of the process.
  if (!file) return fixed(secrets);
  return reloading(
    secrets,
    () => readWebhookSecrets(config, env, read),
    (a, b) => a.length === b.length && a.every((secret, index) => secret === b[index]),
    {
      ...options,
      what: "webhook secrets",
      file,
      details: (next) => ({ secrets: next.length }),
    },
  );
}

/** The GitHub App key or token, re-read from its file; `use` puts a changed one to work (or refuses it). */
export async function githubAuthSource(
  config: Config,
  env: NodeJS.ProcessEnv,
  read: Read,
  options: ReloadOptions & { use: (auth: GitHubAuth) => void },
): Promise<Reloading<GitHubAuth>> {
  const auth = await readGitHubAuth(config, env, read);
  const file = config.github.auth.privateKeyFile ?? config.github.auth.tokenFile;
  if (!file) return fixed(auth);
  const secretOf = (given: GitHubAuth) => (given.kind === "app" ? given.privateKeyPem : given.token);
  return reloading(
    auth,
    () => readGitHubAuth(config, env, read),
    (a, b) => secretOf(a) === secretOf(b),
    {
      ...options,
      what: auth.kind === "app" ? "GitHub App private key" : "GitHub token",
      file,
      accept: options.use,
    },
  );
}
