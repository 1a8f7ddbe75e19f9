import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import { DEFAULT_RECONCILER_TIMING } from "../../../src/scaler/reconcile/reconciler.ts";
import { DEFAULT_RECOVERY_TIMING } from "../../../src/scaler/reconcile/recovery.ts";
import { readGitHubAuth, readWebhookSecrets } from "../../../src/scaler/startup/secrets.ts";
import { StartupError } from "../../../src/scaler/startup/startup-error.ts";
import { tuningOf } from "../../../src/scaler/startup/tuning.ts";

const MINIMAL = join(import.meta.dirname, "../../fixtures/config/minimal.yaml");

const configWith = (github: string) =>
  parseConfig(
    `github:\n  org: acme\n  hookId: 1\n${github}\nkubernetes:\n  namespace: ci\nrunnerSets:\n  - name: dind-k8s\n    labels: [dind-k8s]\n    maxRunners: 1\n    minIdle: 0\n`,
    "test.yaml",
  );
const files = (contents: Record<string, string>) => async (path: string) => {
  const text = contents[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
  return text;
};

describe("the webhook secrets", () => {
  const config = configWith("  webhookSecretFile: /s/webhook\n  auth:\n    tokenEnv: GH_TOKEN");

  it("are the file's lines, current first, blank lines and spaces dropped", async () => {
    const read = files({ "/s/webhook": "  new-secret \n\nold-secret\n" });
    expect(await readWebhookSecrets(config, {}, read)).toEqual(["new-secret", "old-secret"]);
  });

  it("refuse an empty file: the scaler never accepts unsigned webhooks", async () => {
    const read = files({ "/s/webhook": " \n\n" });
    await expect(readWebhookSecrets(config, {}, read)).rejects.toThrow(
      new StartupError("the webhook secret is empty: the scaler refuses to accept unsigned webhooks"),
    );
  });

  it("are at most two: the new one and the old one", async () => {
    const read = files({ "/s/webhook": "a\nb\nc\n" });
    await expect(readWebhookSecrets(config, {}, read)).rejects.toThrow(
      new StartupError(
        "the webhook secret has 3 lines: at most two, the new secret and then the old one while rotating",
      ),
    );
  });

  it("are none with intake poll and no secret configured (no webhooks are taken); with one, it is read", async () => {
    const poll = configWith("  intake: poll\n  auth:\n    tokenEnv: GH_TOKEN");
    expect(await readWebhookSecrets(poll, {}, files({}))).toEqual([]);
    const pollWithSecret = configWith(
      "  intake: poll\n  webhookSecretEnv: HOOK\n  auth:\n    tokenEnv: GH_TOKEN",
    );
    await expect(readWebhookSecrets(pollWithSecret, {}, files({}))).rejects.toThrow(
      "github.webhookSecretEnv",
    );
  });

  it("name the key and the path when the file can't be read", async () => {
    await expect(readWebhookSecrets(config, {}, files({}))).rejects.toThrow(
      "github.webhookSecretFile: cannot read the webhook secret from /s/webhook (ENOENT); mount the Secret there",
    );
  });
});

describe("the GitHub credentials", () => {
  it("are a token from the environment variable the config names", async () => {
    const config = configWith("  webhookSecretEnv: HOOK\n  auth:\n    tokenEnv: GH_TOKEN");
    expect(await readGitHubAuth(config, { GH_TOKEN: " ghp_x \n" }, files({}))).toEqual({
      kind: "token",
      token: "ghp_x",
    });
    await expect(readGitHubAuth(config, {}, files({}))).rejects.toThrow(
      "github.auth.tokenEnv: environment variable GH_TOKEN (the GitHub token) is not set or empty",
    );
  });

  it("are the App's ids and its key file", async () => {
    const config = configWith(
      "  webhookSecretEnv: HOOK\n  auth:\n    appId: 12\n    installationId: 34\n    privateKeyFile: /s/key.pem",
    );
    expect(await readGitHubAuth(config, {}, files({ "/s/key.pem": "PEM\n" }))).toEqual({
      kind: "app",
      appId: 12,
      installationId: 34,
      privateKeyPem: "PEM",
    });
  });
});

describe("tuning, from the configuration file", () => {
  const withTuning = (tuning: string) =>
    parseConfig(`${readFileSync(MINIMAL, "utf8")}tuning:\n${tuning}`, "tuned.yaml");

  it("is nothing when absent, and exactly the keys given otherwise", () => {
    expect(tuningOf(parseConfig(readFileSync(MINIMAL, "utf8"), "minimal.yaml"))).toEqual({});
    expect(
      tuningOf(withTuning("  reconciler: { resyncMs: 200 }\n  lease: { leaseDurationMs: 1500 }\n")),
    ).toEqual({
      reconciler: { resyncMs: 200 },
      lease: { leaseDurationMs: 1500 },
    });
  });

  it("names every timing the reconciler and the recovery sweeps take, and nothing else", () => {
    const all = (defaults: object) =>
      Object.fromEntries(Object.keys(defaults).map((key, index) => [key, index + 1]));
    const yaml = (values: object) => JSON.stringify(values);
    const tuned = tuningOf(
      withTuning(
        `  reconciler: ${yaml(all(DEFAULT_RECONCILER_TIMING))}\n  recovery: ${yaml(all(DEFAULT_RECOVERY_TIMING))}\n`,
      ),
    );
    expect(Object.keys(tuned.reconciler ?? {})).toEqual(Object.keys(DEFAULT_RECONCILER_TIMING));
    expect(Object.keys(tuned.recovery ?? {})).toEqual(Object.keys(DEFAULT_RECOVERY_TIMING));
  });

  it.each([
    ["  reconciler: { resyncMs: 0 }\n", "tuning.reconciler.resyncMs: expected a whole number ≥ 1, got 0"],
    ['  recovery: { auditMs: "5" }\n', 'tuning.recovery.auditMs: expected a whole number ≥ 1, got "5"'],
    ["  scheduler: {}\n", "tuning.scheduler: unknown key"],
  ])("refuses %j, naming the key", (text, message) => {
    expect(() => withTuning(text)).toThrow(message);
  });
});
