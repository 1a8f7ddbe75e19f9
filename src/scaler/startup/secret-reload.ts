// The webhook secrets as Kubernetes keeps them: a mounted Secret's file changes in place when the Secret is
// updated (the kubelet swaps a symlink), so the file is re-read every `reloadMs` and a rotation needs no restart.
// Log lines say how many secrets there are and where they came from, never what they are.
import type { Config } from "../config/load.ts";
import type { Logger } from "../observe/log.ts";
import { readWebhookSecrets } from "./secrets.ts";

/** The kubelet syncs a changed Secret into the Pod within about a minute; re-reading more often costs nothing. */
export const SECRET_RELOAD_MS = 10_000;

export interface WebhookSecretSource {
  /** The current secrets: the same array until the file's contents change. */
  current(): readonly string[];
  stop(): void;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((secret, index) => secret === b[index]);
}

export async function webhookSecretSource(
  config: Config,
  env: NodeJS.ProcessEnv,
  read: (path: string) => Promise<string>,
  { log, reloadMs = SECRET_RELOAD_MS }: { log: Logger; reloadMs?: number },
): Promise<WebhookSecretSource> {
  let secrets: readonly string[] = await readWebhookSecrets(config, env, read);
  const file = config.github.webhookSecretFile;
  // From the environment: fixed for the life of the process.
  if (!file) return { current: () => secrets, stop() {} };

  let failing = false;
  let reading = false;
  const reload = async () => {
    if (reading) return;
    reading = true;
    try {
      const next = await readWebhookSecrets(config, env, read);
      if (!same(next, secrets)) {
        secrets = next;
        log.info("webhook secrets re-read: the file changed", {
          file,
          secrets: next.length,
          hint: next.length > 1 ? "deliveries signed with the first or the second are accepted" : undefined,
        });
      } else if (failing) {
        log.info("webhook secret file readable again; the secrets are unchanged", { file });
      }
      failing = false;
    } catch (error: unknown) {
      // Mid-swap, or a Secret emptied by mistake: keep taking deliveries with the secrets we have.
      if (!failing) {
        log.warn("could not re-read the webhook secrets; keeping the ones read before", {
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
  return { current: () => secrets, stop: () => clearInterval(timer) };
}
