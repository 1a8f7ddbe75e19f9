// The scaler's secrets, read where the configuration says — a mounted file or an environment variable, never the
// configuration itself — with errors that name the key to fix.
import type { Config } from "../config/load.ts";
import { acceptsWebhooks } from "../config/schema.ts";
import type { GitHubAuth } from "../github/types.ts";
import { StartupError } from "./startup-error.ts";

type Read = (path: string) => Promise<string>;

/** A secret from a file or an environment variable, as the config names it; the error says which key. */
export async function secretFrom(
  what: string,
  source: { file?: string | undefined; env?: string | undefined; fileKey: string; envKey: string },
  env: NodeJS.ProcessEnv,
  read: Read,
): Promise<string> {
  if (source.file) {
    try {
      return (await read(source.file)).trim();
    } catch (error: unknown) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new StartupError(
        `${source.fileKey}: cannot read the ${what} from ${source.file} (${reason}); mount the Secret there`,
      );
    }
  }
  if (source.env) {
    const value = env[source.env];
    if (!value)
      throw new StartupError(
        `${source.envKey}: environment variable ${source.env} (the ${what}) is not set or empty`,
      );
    return value.trim();
  }
  throw new StartupError(`set ${source.fileKey} or ${source.envKey}: the ${what} is required`);
}

/**
 * The webhook secrets, one per line: the current one first and, during a rotation, the previous one after it.
 * The scaler refuses to start without one: it never accepts unsigned webhooks. None (an empty list) only with
 * intake poll and no secret configured: then it takes no webhooks at all.
 */
export async function readWebhookSecrets(
  config: Config,
  env: NodeJS.ProcessEnv,
  read: Read,
): Promise<string[]> {
  // intake poll without a secret: no webhooks are taken, so there is nothing to sign them with.
  if (!acceptsWebhooks(config)) return [];
  const text = await secretFrom(
    "webhook secret",
    {
      file: config.github.webhookSecretFile,
      env: config.github.webhookSecretEnv,
      fileKey: "github.webhookSecretFile",
      envKey: "github.webhookSecretEnv",
    },
    env,
    read,
  );
  const secrets = text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  if (secrets.length === 0) {
    throw new StartupError("the webhook secret is empty: the scaler refuses to accept unsigned webhooks");
  }
  if (secrets.length > 2) {
    throw new StartupError(
      `the webhook secret has ${secrets.length} lines: at most two, the new secret and then the old one while rotating`,
    );
  }
  return secrets;
}

/** The GitHub App's key (with its ids) or the token, as github.auth names them. */
export async function readGitHubAuth(
  config: Config,
  env: NodeJS.ProcessEnv,
  read: Read,
): Promise<GitHubAuth> {
  const { auth } = config.github;
  if (auth.appId !== undefined) {
    const privateKeyPem = await secretFrom(
      "GitHub App private key",
      {
        file: auth.privateKeyFile,
        env: auth.privateKeyEnv,
        fileKey: "github.auth.privateKeyFile",
        envKey: "github.auth.privateKeyEnv",
      },
      env,
      read,
    );
    return {
      kind: "app",
      appId: auth.appId,
      privateKeyPem,
      ...(auth.installationId ? { installationId: auth.installationId } : {}),
    };
  }
  const token = await secretFrom(
    "GitHub token",
    {
      file: auth.tokenFile,
      env: auth.tokenEnv,
      fileKey: "github.auth.tokenFile",
      envKey: "github.auth.tokenEnv",
    },
    env,
    read,
  );
  return { kind: "token", token };
}
