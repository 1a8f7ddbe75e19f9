// Kubeconfigs the scaler cannot use: each error names the file, the context and what to change — at startup, not
// at the first request (client-node itself would fail there, or send no credentials at all).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KubeConfigError, loadKubeClient } from "../../../src/scaler/kube/load.ts";

const dir = mkdtempSync(join(tmpdir(), "kube-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(text: string): string {
  const path = join(dir, `config-${++files}`);
  writeFileSync(path, text);
  return path;
}

const config = (
  overrides: { cluster?: object; user?: object; context?: object; current?: string | null } = {},
) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443", ...overrides.cluster } }],
    users: [{ name: "u", user: { token: "t", ...overrides.user } }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", ...overrides.context } }],
    ...(overrides.current === null ? {} : { "current-context": overrides.current ?? "ctx" }),
  });

describe("loadKubeClient", () => {
  it("accepts a token user (JSON is YAML too) and names its source", async () => {
    const path = file(config());
    const kube = loadKubeClient(path);
    expect(kube.source).toBe(`kubeconfig ${path}, context "ctx"`);
    await kube.close();
  });

  it.each([
    [
      "no current-context",
      config({ current: null }),
      /current-context is not set; choose one with kubectl config use-context/,
    ],
    ["an unknown current-context", config({ current: "prod" }), /contexts has no entry named "prod"/],
    [
      "a context naming a cluster that is not there",
      config({ context: { cluster: "elsewhere" } }),
      /context "ctx": clusters has no entry named "elsewhere"/,
    ],
    [
      "a context naming a user that is not there",
      config({ context: { user: "nobody" } }),
      /context "ctx": users has no entry named "nobody"/,
    ],
    [
      "a cluster without a server",
      config({ cluster: { server: "" } }),
      /clusters\[0\]\.cluster\.server is missing/,
    ],
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
    [
      "plain http without insecure-skip-tls-verify",
      config({ cluster: { server: "http://127.0.0.1:8080" } }),
      /plain http:\/\/, which client-node only uses with insecure-skip-tls-verify: true/,
    ],
    [
      "a proxy-url that is not a URL",
      config({ cluster: { "proxy-url": "proxy:3128 " } }),
      /proxy-url "proxy:3128 " must be an http:\/\/, https:\/\/ or socks5:\/\/ URL/,
    ],
    [
      "an auth-provider client-node does not know",
      config({ user: { token: undefined, "auth-provider": { name: "acme-sso" } } }),
      /auth-provider "acme-sso" is not one @kubernetes\/client-node knows \(azure, gcp, oidc\)/,
    ],
    [
      "a client certificate without its key",
      config({ user: { "client-certificate-data": Buffer.from("x").toString("base64") } }),
      /user "u": a client certificate needs its key/,
    ],
    [
      "an unreadable CA file",
      config({ cluster: { "certificate-authority": "/nonexistent/ca.crt" } }),
      /certificate-authority \/nonexistent\/ca.crt: cannot read it \(ENOENT\)/,
    ],
    [
      "an unreadable client key file",
      config({
        user: {
          "client-certificate-data": Buffer.from("x").toString("base64"),
          "client-key": "/nonexistent/k",
        },
      }),
      /client-key \/nonexistent\/k: cannot read it \(ENOENT\)/,
    ],
    [
      "an unreadable token-file",
      config({ user: { token: undefined, "token-file": "/nonexistent/token" } }),
      /cannot read \/nonexistent\/token \(ENOENT\)/,
    ],
    [
      "an exec plugin without a command",
      config({ user: { token: undefined, exec: { apiVersion: "client.authentication.k8s.io/v1" } } }),
      /user "u": exec has no command/,
    ],
    ["text that is not YAML", "clusters: [", /^kubeconfig \/.*: unexpected end of the stream/],
  ])("refuses %s with a message that says what to fix", (_what, text, message) => {
    const path = file(text);
    let error: unknown;
    try {
      loadKubeClient(path);
    } catch (thrown: unknown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(KubeConfigError);
    expect((error as Error).message).toMatch(message);
    // Every message names the file it is about.
    expect((error as Error).message).toContain(path);
  });

  it("names a --kubeconfig that does not exist", () => {
    expect(() => loadKubeClient(join(dir, "missing"))).toThrow(
      new KubeConfigError(`kubeconfig ${join(dir, "missing")}: cannot read ${join(dir, "missing")} (ENOENT)`),
    );
  });

  it("names both files when $KUBECONFIG's files define the same cluster twice", () => {
    const first = file(config());
    const second = file(config());
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = [first, second].join(delimiter);
    try {
      expect(() => loadKubeClient()).toThrow(
        `kubeconfig ${second}: Duplicate cluster: c (already defined by ${first}; give each cluster, user and ` +
          "context of $KUBECONFIG's files its own name)",
      );
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });
});
