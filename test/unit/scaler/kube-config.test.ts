// Kubeconfigs the scaler cannot use: each error names the file, the context and what to change.
import { describe, expect, it } from "vitest";
import { KubeConfigError, kubeClientFromConfig } from "../../../src/scaler/kube/client.ts";

const config = (overrides: { cluster?: object; user?: object; current?: string | null } = {}) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443", ...overrides.cluster } }],
    users: [{ name: "u", user: { token: "t", ...overrides.user } }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    ...(overrides.current === null ? {} : { "current-context": overrides.current ?? "ctx" }),
  });

describe("kubeClientFromConfig", () => {
  it("accepts a token user (JSON is YAML too) and names its source", async () => {
    const kube = await kubeClientFromConfig(config(), { path: "/etc/kube/config" });
    expect(kube.source).toBe('kubeconfig /etc/kube/config, context "ctx"');
    kube.close();
  });

  it.each([
    [
      "no current-context",
      config({ current: null }),
      /current-context is not set; choose one with kubectl config use-context/,
    ],
    ["an unknown current-context", config({ current: "prod" }), /contexts has no entry named "prod"/],
    [
      "a server that is not a URL",
      config({ cluster: { server: "not a url" } }),
      /server "not a url" is not a URL/,
    ],
    [
      "a non-HTTP server",
      config({ cluster: { server: "ftp://x" } }),
      /must be an https:\/\/ \(or http:\/\/\) URL/,
    ],
    ["a proxy-url", config({ cluster: { "proxy-url": "http://proxy:3128" } }), /proxy-url is not supported/],
    [
      "an auth-provider",
      config({ user: { token: undefined, "auth-provider": { name: "gcp" } } }),
      /auth-provider "gcp" is not supported; use an exec credential plugin or a token/,
    ],
    [
      "a client certificate without its key",
      config({ user: { "client-certificate-data": Buffer.from("x").toString("base64") } }),
      /a client certificate needs its key/,
    ],
    [
      "an unreadable CA file",
      config({ cluster: { "certificate-authority": "/nonexistent/ca.crt" } }),
      /certificate-authority \/nonexistent\/ca.crt: cannot read it \(ENOENT\)/,
    ],
    [
      "an unreadable token file",
      config({ user: { token: undefined, tokenFile: "/nonexistent/token" } }),
      /cannot read the token file \/nonexistent\/token \(ENOENT\)/,
    ],
    [
      "an exec plugin without a command",
      config({ user: { token: undefined, exec: { apiVersion: "client.authentication.k8s.io/v1" } } }),
      /exec has no command/,
    ],
    ["text that is not YAML", "clusters: [", /kubeconfig: not valid YAML/],
  ])("refuses %s with a message that says what to fix", async (_what, text, message) => {
    const error = await kubeClientFromConfig(text).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeConfigError);
    expect((error as Error).message).toMatch(message);
  });
});
