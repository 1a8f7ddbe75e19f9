// The scaler's own Kubernetes client against the real apiserver: every way it can be given credentials (kubeconfig
// token, token file, client certificate, exec plugin, impersonation, in-cluster ServiceAccount), and the errors.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1PolicyRule } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import {
  inClusterClient,
  KubeApiError,
  KubeClient,
  KubeConfigError,
  kubeClientFromConfig,
  kubeClientFromFile,
  loadKubeClient,
} from "../../src/scaler/kube/client.ts";
import { createTestNamespace, restrictedKubeConfig, type TestNamespace } from "../helpers/kube.ts";

const env = inject("testenv");
let ns: TestNamespace;
let dir: string;
let saToken: string;

/** A kubeconfig with one context, as kubectl writes it. */
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server: env.kube.server, ...cluster } }],
    users: [{ name: "someone", user }],
    contexts: [{ name: "ctx", context: { cluster: "test", user: "someone", namespace: "ignored" } }],
    "current-context": "ctx",
  });
}

const caData = () => Buffer.from(env.kube.caPem).toString("base64");

/** Who the apiserver thinks we are (SelfSubjectReview, allowed for every authenticated user). */
async function whoAmI(kube: KubeClient): Promise<{ username: string; groups: string[] }> {
  const review = await kube.request<{ status: { userInfo: { username: string; groups: string[] } } }>(
    "POST",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
  );
  return review.status.userInfo;
}

beforeAll(async () => {
  ns = await createTestNamespace(env, "kube-client");
  dir = await mkdtemp(join(tmpdir(), "kube-client-"));
  // A ServiceAccount allowed to read ConfigMaps and nothing else: its token stands in for the in-cluster one.
  const restricted = await restrictedKubeConfig(env, ns.name, "reader", [
    { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "create"] } as V1PolicyRule,
  ]);
  saToken = restricted.getCurrentUser()?.token ?? "";
  expect(saToken).not.toBe("");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("kubeconfig credentials", () => {
  it("authenticates with a bearer token and trusts certificate-authority-data", async () => {
    const kube = await kubeClientFromConfig(
      kubeconfig({ "certificate-authority-data": caData() }, { token: env.kube.adminToken }),
    );
    expect((await whoAmI(kube)).username).toBe("dind-k8s-test-admin");
    kube.close();
  });

  it("authenticates with a client certificate from files given relative to the kubeconfig", async () => {
    const sub = join(dir, "certs");
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, "ca.crt"), env.kube.caPem);
    await writeFile(join(sub, "admin.crt"), env.kube.adminClientCert.certPem);
    await writeFile(join(sub, "admin.key"), env.kube.adminClientCert.keyPem, { mode: 0o600 });
    const path = join(dir, "cert.kubeconfig");
    await writeFile(
      path,
      kubeconfig(
        { "certificate-authority": "certs/ca.crt" },
        { "client-certificate": "certs/admin.crt", "client-key": "certs/admin.key" },
      ),
    );
    const kube = await kubeClientFromFile(path);
    const me = await whoAmI(kube);
    expect(me.username).toBe("dind-k8s-cert-admin");
    expect(me.groups).toContain("system:masters");
    kube.close();
  });

  it("authenticates with client certificate data inline", async () => {
    const kube = await kubeClientFromConfig(
      kubeconfig(
        { "certificate-authority-data": caData() },
        {
          "client-certificate-data": Buffer.from(env.kube.adminClientCert.certPem).toString("base64"),
          "client-key-data": Buffer.from(env.kube.adminClientCert.keyPem).toString("base64"),
        },
      ),
    );
    expect((await whoAmI(kube)).username).toBe("dind-k8s-cert-admin");
    kube.close();
  });

  it("re-reads a tokenFile after its TTL, so a rotated token is used", async () => {
    const tokenPath = join(dir, "rotating-token");
    await writeFile(tokenPath, `${saToken}\n`);
    const kube = await kubeClientFromConfig(
      kubeconfig({ "certificate-authority-data": caData() }, { tokenFile: tokenPath }),
      { tokenFileTtlMs: 0 },
    );
    expect((await whoAmI(kube)).username).toBe(`system:serviceaccount:${ns.name}:reader`);
    await writeFile(tokenPath, env.kube.adminToken);
    expect((await whoAmI(kube)).username).toBe("dind-k8s-test-admin");
    kube.close();
  });

  it("runs an exec credential plugin once and reuses its token until it expires", async () => {
    const counter = join(dir, "exec-count");
    const plugin = join(dir, "plugin.sh");
    // Prints a token valid for one hour and counts its runs; checks it was given KUBERNETES_EXEC_INFO.
    await writeFile(
      plugin,
      [
        "#!/bin/sh",
        'case "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) echo "no exec info" >&2; exit 3;; esac',
        `echo x >> "${counter}"`,
        `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$TOKEN" "$EXPIRES"`,
      ].join("\n"),
    );
    await chmod(plugin, 0o755);
    const exec = (expires: string) => ({
      apiVersion: "client.authentication.k8s.io/v1",
      command: plugin,
      env: [
        { name: "TOKEN", value: env.kube.adminToken },
        { name: "EXPIRES", value: expires },
      ],
    });
    const lasting = await kubeClientFromConfig(
      kubeconfig(
        { "certificate-authority-data": caData() },
        { exec: exec(new Date(Date.now() + 3_600_000).toISOString()) },
      ),
    );
    await Promise.all([whoAmI(lasting), whoAmI(lasting), whoAmI(lasting)]);
    expect((await readFile(counter, "utf8")).trim().split("\n")).toHaveLength(1);

    // Already expired: every request runs the plugin again.
    const expired = await kubeClientFromConfig(
      kubeconfig({ "certificate-authority-data": caData() }, { exec: exec("2020-01-01T00:00:00Z") }),
    );
    await whoAmI(expired);
    await whoAmI(expired);
    expect((await readFile(counter, "utf8")).trim().split("\n")).toHaveLength(3);
    lasting.close();
    expired.close();
  });

  it("says which plugin failed and what it printed", async () => {
    const kube = await kubeClientFromConfig(
      kubeconfig(
        { "certificate-authority-data": caData() },
        { exec: { command: "sh", args: ["-c", "echo 'please run: cloud login' >&2; exit 1"] } },
      ),
    );
    await expect(whoAmI(kube)).rejects.toThrow(/exec credential plugin sh failed.*please run: cloud login/);
  });

  it("impersonates the user the kubeconfig names with `as`", async () => {
    const kube = await kubeClientFromConfig(
      kubeconfig(
        { "certificate-authority-data": caData() },
        { token: env.kube.adminToken, as: "jane", "as-groups": ["developers"] },
      ),
    );
    const me = await whoAmI(kube);
    expect(me.username).toBe("jane");
    expect(me.groups).toContain("developers");
    // jane has no permissions: the apiserver's refusal arrives as a KubeApiError with its Status.
    const refused = await kube
      .request("GET", `/api/v1/namespaces/${ns.name}/pods`)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(KubeApiError);
    expect(refused).toMatchObject({ status: 403, reason: "Forbidden" });
    expect((refused as Error).message).toMatch(
      /^GET \/api\/v1\/namespaces\/.*\/pods: HTTP 403: pods is forbidden: User "jane"/,
    );
    kube.close();
  });

  it("connects with insecure-skip-tls-verify, and refuses an apiserver its CA did not sign", async () => {
    const insecure = await kubeClientFromConfig(
      kubeconfig({ "insecure-skip-tls-verify": true }, { token: env.kube.adminToken }),
    );
    expect((await whoAmI(insecure)).username).toBe("dind-k8s-test-admin");
    insecure.close();
    // The client certificate's CA is not the one that signed the serving certificate.
    const wrongCa = await kubeClientFromConfig(
      kubeconfig(
        { "certificate-authority-data": Buffer.from(env.kube.adminClientCert.certPem).toString("base64") },
        { token: env.kube.adminToken },
      ),
    );
    await expect(whoAmI(wrongCa)).rejects.toThrow(/selfsubjectreviews on 127\.0\.0\.1:\d+: .*certificate/i);
    wrongCa.close();
  });
});

describe("requests", () => {
  it("creates, reads, patches and deletes with the apiserver's own status codes", async () => {
    const kube = await kubeClientFromConfig(
      kubeconfig({ "certificate-authority-data": caData() }, { token: env.kube.adminToken }),
    );
    const path = `/api/v1/namespaces/${ns.name}/configmaps`;
    const created = await kube.request<{ metadata: { uid: string; resourceVersion: string } }>("POST", path, {
      body: { metadata: { name: "one" }, data: { a: "1" } },
      query: { fieldManager: "kube-client-test" },
    });
    const duplicate = await kube
      .request("POST", path, { body: { metadata: { name: "one" } } })
      .catch((e: unknown) => e);
    expect(duplicate).toMatchObject({ status: 409, reason: "AlreadyExists" });
    await kube.request("PATCH", `${path}/one`, {
      body: { data: { b: "2" } },
      contentType: "application/merge-patch+json",
    });
    const read = await kube.request<{ data: Record<string, string> }>("GET", `${path}/one`);
    expect(read.data).toEqual({ a: "1", b: "2" });
    // A stale resourceVersion precondition: the delete is refused, the object stays.
    const stale = await kube
      .request("DELETE", `${path}/one`, {
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          preconditions: { resourceVersion: created.metadata.resourceVersion },
        },
      })
      .catch((e: unknown) => e);
    expect(stale).toMatchObject({ status: 409, reason: "Conflict" });
    await kube.request("DELETE", `${path}/one`, {
      body: { apiVersion: "v1", kind: "DeleteOptions", preconditions: { uid: created.metadata.uid } },
    });
    await expect(kube.request("GET", `${path}/one`)).rejects.toMatchObject({
      status: 404,
      reason: "NotFound",
    });
    kube.close();
  });

  it("gives up on an apiserver that accepts and never answers, after timeoutMs", async () => {
    const silent: Server = createServer(() => {
      // Accept the connection, say nothing.
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    const kube = new KubeClient({ server: `http://127.0.0.1:${port}`, source: "test" });
    const started = Date.now();
    await expect(kube.request("GET", "/version", { timeoutMs: 300 })).rejects.toThrow(
      /GET \/version on 127\.0\.0\.1:\d+: no answer within 300 ms/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    kube.close();
    silent.close();
  });
});

describe("in-cluster", () => {
  async function serviceAccountDir(token: string): Promise<string> {
    const sa = await mkdtemp(join(dir, "sa-"));
    await writeFile(join(sa, "token"), token);
    await writeFile(join(sa, "ca.crt"), env.kube.caPem);
    return sa;
  }
  const serviceEnv = () => {
    const url = new URL(env.kube.server);
    return { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port };
  };

  it("uses the mounted ServiceAccount token and CA when KUBERNETES_SERVICE_HOST is set", async () => {
    const sa = await serviceAccountDir(saToken);
    const kube = await loadKubeClient(undefined, { env: serviceEnv(), serviceAccountDir: sa });
    expect(kube.source).toBe("in-cluster ServiceAccount");
    expect((await whoAmI(kube)).username).toBe(`system:serviceaccount:${ns.name}:reader`);
    // The ServiceAccount's own permissions apply: ConfigMaps yes, Secrets no.
    await kube.request("GET", `/api/v1/namespaces/${ns.name}/configmaps`);
    await expect(kube.request("GET", `/api/v1/namespaces/${ns.name}/secrets`)).rejects.toMatchObject({
      status: 403,
    });
    kube.close();
  });

  it("prefers an explicit kubeconfig and $KUBECONFIG over the in-cluster identity", async () => {
    const sa = await serviceAccountDir(saToken);
    const path = join(dir, "explicit.kubeconfig");
    await writeFile(
      path,
      kubeconfig({ "certificate-authority-data": caData() }, { token: env.kube.adminToken }),
    );
    for (const kube of [
      await loadKubeClient(path, { env: serviceEnv(), serviceAccountDir: sa }),
      await loadKubeClient(undefined, { env: { ...serviceEnv(), KUBECONFIG: path }, serviceAccountDir: sa }),
    ]) {
      expect(kube.source).toContain(path);
      expect((await whoAmI(kube)).username).toBe("dind-k8s-test-admin");
      kube.close();
    }
  });

  it("names the missing file when the mount is incomplete", async () => {
    const sa = await mkdtemp(join(dir, "sa-"));
    await writeFile(join(sa, "token"), saToken);
    await expect(inClusterClient({ env: serviceEnv(), serviceAccountDir: sa })).rejects.toThrow(
      new RegExp(`in-cluster ServiceAccount: cannot read ${sa}/ca.crt \\(ENOENT\\)`),
    );
  });

  it("without any credentials, says where it looked", async () => {
    await expect(
      loadKubeClient(undefined, { env: { HOME: dir }, serviceAccountDir: join(dir, "nowhere") }),
    ).rejects.toThrow(KubeConfigError);
    await expect(
      loadKubeClient(undefined, { env: { HOME: dir }, serviceAccountDir: join(dir, "nowhere") }),
    ).rejects.toThrow(/pass --kubeconfig, set KUBECONFIG, or run in a Pod/);
  });
});
