// The scaler's Kubernetes client (client-node's KubeConfig, typed API clients and Watch, over one connection pool)
// against the real apiserver: every way it can be given credentials — each proven with a SelfSubjectReview, the
// apiserver's own word on who we are — the connection pool, and the errors.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import {
  AuthenticationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { describeKubeError, kubeApiError, kubeStatus } from "../../src/scaler/kube/api-error.ts";
import type { KubeClient } from "../../src/scaler/kube/client.ts";
import { KubeConfigError, loadKubeClient } from "../../src/scaler/kube/load.ts";
import { PodCache } from "../../src/scaler/kube/pod-cache.ts";
import { proxyTunnels } from "../env/proxy.ts";
import {
  adminKubeConfig,
  createTestNamespace,
  restrictedKubeConfig,
  type TestNamespace,
} from "../helpers/kube.ts";

const env = inject("testenv");
let ns: TestNamespace;
let dir: string;
let saToken: string;
const clients: KubeClient[] = [];

/** A kubeconfig with one context, as kubectl writes it. */
function kubeconfig(
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
  server = env.kube.server,
): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server, ...cluster } }],
    users: [{ name: "someone", user }],
    contexts: [{ name: "ctx", context: { cluster: "test", user: "someone", namespace: "ignored" } }],
    "current-context": "ctx",
  });
}

const caData = () => Buffer.from(env.kube.caPem).toString("base64");

let written = 0;
/** Writes `text` to a fresh file under the test's dir; returns its path. */
async function file(text: string, name = `kubeconfig-${++written}`): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

/** The scaler's client for a kubeconfig file, closed after the file's tests. */
function client(path?: string, options: Parameters<typeof loadKubeClient>[1] = {}): KubeClient {
  const kube = loadKubeClient(path, options);
  clients.push(kube);
  return kube;
}

/** Who the apiserver thinks we are (SelfSubjectReview, allowed for every authenticated user). */
async function whoAmI(kube: KubeClient): Promise<{ username: string; groups: string[] }> {
  const review = await kube.api(AuthenticationV1Api).createSelfSubjectReview({
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  });
  const user = review.status?.userInfo;
  return { username: user?.username ?? "", groups: user?.groups ?? [] };
}

/** Runs `body` with these process environment variables (undefined: unset), as the scaler would see them. */
async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(vars);
  try {
    return await body();
  } finally {
    apply(saved);
  }
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
  await Promise.all(clients.map((kube) => kube.close()));
  await rm(dir, { recursive: true, force: true });
});

describe("kubeconfig credentials, through client-node", () => {
  it("a bearer token, trusting certificate-authority-data", async () => {
    const kube = client(
      await file(kubeconfig({ "certificate-authority-data": caData() }, { token: env.kube.adminToken })),
    );
    expect((await whoAmI(kube)).username).toBe("dind-k8s-test-admin");
  });

  it("a token file (client-node's token-file)", async () => {
    const tokenPath = await file(`${saToken}\n`, "token");
    const kube = client(
      await file(kubeconfig({ "certificate-authority-data": caData() }, { "token-file": tokenPath })),
    );
    expect((await whoAmI(kube)).username).toBe(`system:serviceaccount:${ns.name}:reader`);
  });

  it("a client certificate from files given relative to the kubeconfig", async () => {
    const sub = join(dir, "certs");
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, "ca.crt"), env.kube.caPem);
    await writeFile(join(sub, "admin.crt"), env.kube.adminClientCert.certPem);
    await writeFile(join(sub, "admin.key"), env.kube.adminClientCert.keyPem, { mode: 0o600 });
    const kube = client(
      await file(
        kubeconfig(
          { "certificate-authority": "certs/ca.crt" },
          { "client-certificate": "certs/admin.crt", "client-key": "certs/admin.key" },
        ),
      ),
    );
    const me = await whoAmI(kube);
    expect(me.username).toBe("dind-k8s-cert-admin");
    expect(me.groups).toContain("system:masters");
  });

  it("client certificate data inline", async () => {
    const kube = client(
      await file(
        kubeconfig(
          { "certificate-authority-data": caData() },
          {
            "client-certificate-data": Buffer.from(env.kube.adminClientCert.certPem).toString("base64"),
            "client-key-data": Buffer.from(env.kube.adminClientCert.keyPem).toString("base64"),
          },
        ),
      ),
    );
    expect((await whoAmI(kube)).username).toBe("dind-k8s-cert-admin");
  });

  /** An exec credential plugin that prints `credential` (its status) and counts its runs in `counter`. */
  async function execPlugin(name: string, status: Record<string, unknown>) {
    const counter = join(dir, `${name}-runs`);
    const output = await file(
      JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status }),
      `${name}.json`,
    );
    const plugin = join(dir, `${name}.sh`);
    await writeFile(plugin, ["#!/bin/sh", `echo x >> "${counter}"`, `cat "${output}"`].join("\n"));
    await chmod(plugin, 0o755);
    const runs = async () =>
      (await readFile(counter, "utf8").catch(() => "")).trim().split("\n").filter(Boolean).length;
    return { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin }, runs };
  }

  it("an exec plugin's token, run again only once it has expired", async () => {
    const lasting = await execPlugin("lasting", {
      token: env.kube.adminToken,
      expirationTimestamp: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const kube = client(
      await file(kubeconfig({ "certificate-authority-data": caData() }, { exec: lasting.exec })),
    );
    expect((await whoAmI(kube)).username).toBe("dind-k8s-test-admin");
    await Promise.all([whoAmI(kube), whoAmI(kube), whoAmI(kube)]);
    expect(await lasting.runs()).toBe(1);

    const expired = await execPlugin("expired", {
      token: env.kube.adminToken,
      expirationTimestamp: "2020-01-01T00:00:00Z",
    });
    const again = client(
      await file(kubeconfig({ "certificate-authority-data": caData() }, { exec: expired.exec })),
    );
    await whoAmI(again);
    // The first request of a connection pool asks client-node for the credentials twice (see PooledKubeConfig).
    const first = await expired.runs();
    expect(first).toBeGreaterThanOrEqual(1);
    await whoAmI(again);
    expect(await expired.runs()).toBe(first + 1);
  });

  it("an exec plugin that answers with a client certificate", async () => {
    const plugin = await execPlugin("cert", {
      clientCertificateData: env.kube.adminClientCert.certPem,
      clientKeyData: env.kube.adminClientCert.keyPem,
    });
    const kube = client(
      await file(kubeconfig({ "certificate-authority-data": caData() }, { exec: plugin.exec })),
    );
    expect((await whoAmI(kube)).username).toBe("dind-k8s-cert-admin");
    expect((await whoAmI(kube)).username).toBe("dind-k8s-cert-admin");
    // One pool for the certificate it gave, reused by the second request.
    expect(kube.config.poolsCreated).toBe(1);
  });

  it("a failing exec plugin: the request fails with what the plugin said", async () => {
    const kube = client(
      await file(
        kubeconfig(
          { "certificate-authority-data": caData() },
          { exec: { command: "sh", args: ["-c", "echo 'please run: cloud login' >&2; exit 1"] } },
        ),
      ),
    );
    const error = await whoAmI(kube).catch((thrown: unknown) => thrown);
    expect(describeKubeError(error)).toMatch(/please run: cloud login/);
  });

  it("impersonation: the user the kubeconfig names with `as`", async () => {
    const kube = client(
      await file(
        kubeconfig({ "certificate-authority-data": caData() }, { token: env.kube.adminToken, as: "jane" }),
      ),
    );
    expect((await whoAmI(kube)).username).toBe("jane");
    // jane has no permissions: the apiserver's refusal, mapped from client-node's ApiException.
    const refused = await kube
      .api(CoreV1Api)
      .listNamespacedPod({ namespace: ns.name })
      .catch((error: unknown) => error);
    expect(kubeApiError(refused)).toMatchObject({ status: 403, reason: "Forbidden" });
    expect(kubeApiError(refused)?.message).toMatch(/^HTTP 403: pods is forbidden: User "jane" cannot list/);
  });

  it("$KUBECONFIG of two files, merged: the cluster in one, the user and context in the other", async () => {
    const clusterFile = await file(
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          { name: "split", cluster: { server: env.kube.server, "certificate-authority-data": caData() } },
        ],
      }),
    );
    const userFile = await file(
      stringify({
        apiVersion: "v1",
        kind: "Config",
        users: [{ name: "split-admin", user: { token: env.kube.adminToken } }],
        contexts: [{ name: "split", context: { cluster: "split", user: "split-admin" } }],
        "current-context": "split",
      }),
    );
    const kube = await withEnv({ KUBECONFIG: [clusterFile, userFile].join(delimiter) }, async () => client());
    expect(kube.source).toBe(`kubeconfig ${clusterFile}${delimiter}${userFile}, context "split"`);
    expect((await whoAmI(kube)).username).toBe("dind-k8s-test-admin");
  });

  it("proxy-url: through an HTTP CONNECT proxy (tinyproxy), one tunnel for many requests", async () => {
    const before = await proxyTunnels(env.proxy.logFile);
    const kube = client(
      await file(
        kubeconfig(
          { "certificate-authority-data": caData(), "proxy-url": env.proxy.url },
          { token: env.kube.adminToken },
        ),
      ),
    );
    for (let i = 0; i < 5; i++) expect((await whoAmI(kube)).username).toBe("dind-k8s-test-admin");
    const tunnels = (await proxyTunnels(env.proxy.logFile)).slice(before.length);
    // The proxy saw the requests (they did not go around it) and kept them on one pooled connection.
    expect(tunnels).toEqual([new URL(env.kube.server).host]);
  });

  it("insecure-skip-tls-verify connects; an apiserver its CA did not sign is refused, with the reason", async () => {
    const insecure = client(
      await file(kubeconfig({ "insecure-skip-tls-verify": true }, { token: env.kube.adminToken })),
    );
    expect((await whoAmI(insecure)).username).toBe("dind-k8s-test-admin");
    // The client certificate is not the CA that signed the serving certificate.
    const wrongCa = client(
      await file(
        kubeconfig(
          { "certificate-authority-data": Buffer.from(env.kube.adminClientCert.certPem).toString("base64") },
          { token: env.kube.adminToken },
        ),
      ),
    );
    const error = await whoAmI(wrongCa).catch((thrown: unknown) => thrown);
    expect(describeKubeError(error)).toMatch(/^fetch failed: .*certificate/i);
  });
});

describe("in-cluster, through client-node's loadFromCluster", () => {
  /** A ServiceAccount mount under a temp root, as kubelet writes it under /var/run/secrets/…. */
  async function serviceAccountRoot(files: { token?: string; ca?: string }): Promise<string> {
    const root = await mkdtemp(join(dir, "root-"));
    const mount = join(root, "var/run/secrets/kubernetes.io/serviceaccount");
    await mkdir(mount, { recursive: true });
    if (files.token !== undefined) await writeFile(join(mount, "token"), files.token);
    if (files.ca !== undefined) await writeFile(join(mount, "ca.crt"), files.ca);
    await writeFile(join(mount, "namespace"), ns.name);
    return root;
  }
  const serviceEnv = () => {
    const url = new URL(env.kube.server);
    return {
      KUBERNETES_SERVICE_HOST: url.hostname,
      KUBERNETES_SERVICE_PORT: url.port,
      KUBECONFIG: undefined,
    };
  };

  it("uses the mounted ServiceAccount token and CA when KUBERNETES_SERVICE_HOST is set", async () => {
    const root = await serviceAccountRoot({ token: saToken, ca: env.kube.caPem });
    const kube = await withEnv(serviceEnv(), async () => client(undefined, { serviceAccountRoot: root }));
    expect(kube.source).toBe("in-cluster ServiceAccount");
    expect((await whoAmI(kube)).username).toBe(`system:serviceaccount:${ns.name}:reader`);
    // The ServiceAccount's own permissions apply: ConfigMaps yes, Secrets no.
    const core = kube.api(CoreV1Api);
    await core.listNamespacedConfigMap({ namespace: ns.name });
    const refused = await core.listNamespacedSecret({ namespace: ns.name }).catch((error: unknown) => error);
    expect(kubeStatus(refused)).toBe(403);
  });

  it("prefers --kubeconfig and $KUBECONFIG to the in-cluster identity", async () => {
    const root = await serviceAccountRoot({ token: saToken, ca: env.kube.caPem });
    const path = await file(
      kubeconfig({ "certificate-authority-data": caData() }, { token: env.kube.adminToken }),
    );
    for (const kube of await withEnv(serviceEnv(), async () => [
      client(path, { serviceAccountRoot: root }),
      await withEnv({ KUBECONFIG: path }, async () => client(undefined, { serviceAccountRoot: root })),
    ])) {
      expect(kube.source).toBe(`kubeconfig ${path}, context "ctx"`);
      expect((await whoAmI(kube)).username).toBe("dind-k8s-test-admin");
    }
  });

  it("names the missing file when the mount is incomplete", async () => {
    const root = await serviceAccountRoot({ token: saToken });
    await withEnv(serviceEnv(), async () => {
      expect(() => loadKubeClient(undefined, { serviceAccountRoot: root })).toThrow(
        `in-cluster ServiceAccount: certificate-authority ${root}/var/run/secrets/kubernetes.io/serviceaccount/ca.crt: cannot read it (ENOENT)`,
      );
    });
  });

  it("without any credentials, says where it looked", async () => {
    const root = await serviceAccountRoot({});
    await withEnv({ HOME: dir, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined }, async () => {
      expect(() => loadKubeClient(undefined, { serviceAccountRoot: root })).toThrow(KubeConfigError);
      expect(() => loadKubeClient(undefined, { serviceAccountRoot: root })).toThrow(
        /pass --kubeconfig, set KUBECONFIG, or run in a Pod with a ServiceAccount token/,
      );
    });
  });
});

/** A TCP relay to the apiserver that counts the connections made through it (TLS passes through untouched). */
async function countingRelay(): Promise<{ server: string; connections: () => number; close: () => void }> {
  const target = new URL(env.kube.server);
  let connections = 0;
  const sockets = new Set<Socket>();
  const relay: Server = createServer((downstream) => {
    connections++;
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {
        downstream.destroy();
        upstream.destroy();
      });
      socket.on("close", () => sockets.delete(socket));
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const { port } = relay.address() as { port: number };
  return {
    // The serving certificate is for 127.0.0.1: valid on the relay's port too.
    server: `https://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => {
      for (const socket of sockets) socket.destroy();
      relay.close();
    },
  };
}

describe("requests", () => {
  it("share one keep-alive connection pool: typed clients and watches, sequential and concurrent", async () => {
    const relay = await countingRelay();
    try {
      const text = kubeconfig(
        { "certificate-authority-data": caData() },
        { token: env.kube.adminToken },
        relay.server,
      );
      const kube = client(await file(text));
      const core = kube.api(CoreV1Api);
      const auth = kube.api(AuthenticationV1Api);
      for (let i = 0; i < 10; i++) {
        await core.createNamespacedConfigMap({
          namespace: ns.name,
          body: { metadata: { name: `pooled-${i}` } },
        });
        await core.readNamespacedConfigMap({ namespace: ns.name, name: `pooled-${i}` });
        await whoAmI(kube);
      }
      await auth.createSelfSubjectReview({ body: {} });
      // 31 sequential requests through two typed clients: one connection, kept alive.
      expect(relay.connections()).toBe(1);

      // Concurrent requests may need connections of their own; the pool keeps them for the next ones.
      await Promise.all(Array.from({ length: 8 }, () => whoAmI(kube)));
      const afterBurst = relay.connections();
      expect(afterBurst).toBeLessThanOrEqual(9);
      // A watch holds a connection while it runs: a request beside it takes another one (or an idle one).
      const controller = await kube.watch().watch(
        `/api/v1/namespaces/${ns.name}/configmaps`,
        { timeoutSeconds: 5 },
        () => {},
        () => {},
      );
      await core.listNamespacedConfigMap({ namespace: ns.name });
      const withWatch = relay.connections();
      expect(withWatch - afterBurst).toBeLessThanOrEqual(1);
      controller.abort();
      for (let i = 0; i < 10; i++) await whoAmI(kube);
      // Nothing after the watch opened a new connection.
      expect(relay.connections()).toBe(withWatch);
      expect(kube.config.poolsCreated).toBe(1);

      // What the pool fixes: client-node by itself builds a new dispatcher, so a new connection, per request.
      const plain = adminKubeConfig(env);
      plain.clusters[0] = { ...plain.clusters[0]!, server: relay.server };
      const plainCore = plain.makeApiClient(CoreV1Api);
      const before = relay.connections();
      for (let i = 0; i < 5; i++)
        await plainCore.readNamespacedConfigMap({ namespace: ns.name, name: "pooled-0" });
      expect(relay.connections() - before).toBe(5);
    } finally {
      relay.close();
    }
  });

  it("create, read, patch and delete answer with the apiserver's status and reason, mapped in one place", async () => {
    const kube = client(
      await file(kubeconfig({ "certificate-authority-data": caData() }, { token: env.kube.adminToken })),
    );
    const core = kube.api(CoreV1Api);
    const namespace = ns.name;
    const created = await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: "one" }, data: { a: "1" } },
      fieldManager: "kube-client-test",
    });
    const duplicate = await core
      .createNamespacedConfigMap({ namespace, body: { metadata: { name: "one" } } })
      .catch((error: unknown) => error);
    expect(kubeApiError(duplicate)).toMatchObject({ status: 409, reason: "AlreadyExists" });
    await core.patchNamespacedConfigMap(
      { namespace, name: "one", body: { data: { b: "2" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect((await core.readNamespacedConfigMap({ namespace, name: "one" })).data).toEqual({ a: "1", b: "2" });
    // A stale resourceVersion precondition: the delete is refused, the object stays.
    const stale = await core
      .deleteNamespacedConfigMap({
        namespace,
        name: "one",
        body: { preconditions: { resourceVersion: created.metadata?.resourceVersion } },
      })
      .catch((error: unknown) => error);
    expect(kubeApiError(stale)).toMatchObject({ status: 409, reason: "Conflict" });
    await core.deleteNamespacedConfigMap({
      namespace,
      name: "one",
      body: { preconditions: { uid: created.metadata?.uid } },
    });
    const gone = await core
      .readNamespacedConfigMap({ namespace, name: "one" })
      .catch((error: unknown) => error);
    expect(kubeApiError(gone)).toMatchObject({
      status: 404,
      reason: "NotFound",
      detail: 'configmaps "one" not found',
    });
  });

  it("gives up on an apiserver that accepts and never answers, after timeoutMs", async () => {
    const silent: Server = createServer(() => {
      // Accept the connection, say nothing.
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const kube = client(
        await file(
          kubeconfig({ "insecure-skip-tls-verify": true }, { token: "t" }, `http://127.0.0.1:${port}`),
        ),
        { timeoutMs: 300 },
      );
      const started = Date.now();
      const error = await whoAmI(kube).catch((thrown: unknown) => thrown);
      expect(describeKubeError(error)).toBe("no answer in time (is the apiserver reachable?)");
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silent.close();
    }
  });
});

describe("the Pod cache on client-node's list and Watch", () => {
  it("lists in pages, follows changes across watches the apiserver ends, and keeps Pods slim", async () => {
    const kube = client(
      await file(kubeconfig({ "certificate-authority-data": caData() }, { token: env.kube.adminToken })),
    );
    const core = kube.api(CoreV1Api);
    const pod = (name: string) => ({
      metadata: { name, labels: { "cache-test": "yes", "dind-k8s.io/kind": "job" } },
      spec: { containers: [{ name: "c", image: "busybox", command: ["sleep", "1"] }] },
    });
    for (let i = 0; i < 5; i++)
      await core.createNamespacedPod({ namespace: ns.name, body: pod(`listed-${i}`) });
    // Pages of 2 (three LISTs with continue tokens); watches of 1 s, so the next changes arrive on later watches.
    let lists = 0;
    const cache = new PodCache({
      kube,
      namespace: ns.name,
      labelSelector: "cache-test=yes",
      pageSize: 2,
      watchTimeoutSeconds: 1,
      onList: () => lists++,
    });
    await cache.start();
    try {
      expect(
        cache
          .list()
          .map((cached) => cached.metadata?.name)
          .sort(),
      ).toEqual(Array.from({ length: 5 }, (_, i) => `listed-${i}`));
      // Slim: containers, other labels and managedFields are gone; timestamps are Dates (lists give Dates).
      const listed = cache.get("listed-0");
      expect(listed?.spec?.containers).toEqual([]);
      expect(listed?.metadata?.labels).toEqual({ "dind-k8s.io/kind": "job" });
      expect(listed?.metadata?.creationTimestamp).toBeInstanceOf(Date);
      // Wait past several server-ended watches, then change things.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await core.createNamespacedPod({ namespace: ns.name, body: pod("watched") });
      await core.deleteNamespacedPod({ namespace: ns.name, name: "listed-1", gracePeriodSeconds: 0 });
      const deadline = Date.now() + 10_000;
      while ((!cache.get("watched") || cache.get("listed-1")) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(cache.get("watched")?.metadata?.creationTimestamp).toBeInstanceOf(Date);
      expect(cache.get("listed-1")).toBeUndefined();
      expect(cache.lastError).toBeUndefined();
      // Every server-ended watch resumed from its resourceVersion: still the one LIST of the start.
      expect(lists).toBe(1);
    } finally {
      await cache.stop();
    }
  });
});
