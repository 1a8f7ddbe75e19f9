import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import { readGitHubAuth, readWebhookSecrets } from "../../../src/scaler/startup/secrets.ts";
import { StartupError } from "../../../src/scaler/startup/startup-error.ts";
import { parseTuning } from "../../../src/scaler/startup/tuning.ts";

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

describe("DIND_K8S_TUNING", () => {
  it("is nothing when unset, and the sections as given otherwise", () => {
    expect(parseTuning(undefined)).toEqual({});
    expect(parseTuning('{"reconciler":{"resyncMs":200},"lease":{"leaseDurationMs":1500}}')).toEqual({
      reconciler: { resyncMs: 200 },
      lease: { leaseDurationMs: 1500 },
    });
  });

  it.each([
    ["{", "DIND_K8S_TUNING is not valid JSON"],
    ["[]", "DIND_K8S_TUNING: expected an object with reconciler, recovery and lease sections"],
    ['{"scheduler":{}}', "DIND_K8S_TUNING.scheduler: unknown section; expected reconciler, recovery, lease"],
    [
      '{"reconciler":{"resyncMs":0}}',
      "DIND_K8S_TUNING.reconciler.resyncMs: expected a positive number, got 0",
    ],
    ['{"recovery":{"auditMs":"5"}}', 'DIND_K8S_TUNING.recovery.auditMs: expected a positive number, got "5"'],
  ])("refuses %s", (text, message) => {
    expect(() => parseTuning(text)).toThrow(new StartupError(message));
  });
});
