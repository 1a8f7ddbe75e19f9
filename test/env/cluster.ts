import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { Daemon } from "./daemon.ts";
import { freePort, waitUntil } from "./net.ts";

export interface RunningCluster {
  server: string;
  caPem: string;
  adminToken: string;
  adminClientCert: { certPem: string; keyPem: string };
  adminKubeconfigPath: string;
  version: string;
  daemons: Daemon[];
}

/** Issuer and audience of ServiceAccount tokens, as on a real cluster. */
export const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

async function startEtcd(etcd: string, runDir: string): Promise<{ daemon: Daemon; url: string }> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const logFile = join(runDir, "etcd.log");
  const daemon = Daemon.start(
    "etcd",
    etcd,
    [
      "--name=dind-k8s-test",
      `--data-dir=${join(runDir, "etcd")}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=dind-k8s-test=http://127.0.0.1:${peerPort}`,
      // Tests write a lot and keep nothing: no fsync wait, small backend.
      "--unsafe-no-fsync",
      "--quota-backend-bytes=4294967296",
      "--log-level=warn",
    ],
    logFile,
  );
  await waitUntil(
    "etcd",
    async () => {
      const response = await fetch(`${url}/health`);
      return response.ok;
    },
    { timeoutMs: 30_000, exited: daemon.exited, logFile },
  );
  return { daemon, url };
}

/** GET a path of the apiserver as admin; resolves with status and body. */
export function apiGet(
  server: string,
  caPem: string,
  token: string,
  path: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      { ca: caPem, headers: { authorization: `Bearer ${token}` }, timeout: 5_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

export function adminKubeconfigYaml(server: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: dind-k8s-test",
    "    cluster:",
    `      server: ${server}`,
    `      certificate-authority-data: ${ca}`,
    "users:",
    "  - name: admin",
    "    user:",
    `      token: ${token}`,
    "contexts:",
    "  - name: admin",
    "    context:",
    "      cluster: dind-k8s-test",
    "      user: admin",
    "current-context: admin",
    "",
  ].join("\n");
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args[0]} failed: ${stderr || error.message}`));
      else resolve();
    });
  });
}

/**
 * A client CA for --client-ca-file and an admin (system:masters) certificate it signed: kubeconfigs of kind,
 * minikube and kubeadm authenticate this way, and the scaler's own client must too.
 */
async function clientCertificates(pki: string): Promise<{ caFile: string; certPem: string; keyPem: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "client-ca.key",
      "-out",
      "client-ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=dind-k8s-test-client-ca",
    ],
    pki,
  );
  await openssl(
    [
      "req",
      ...ec,
      "-keyout",
      "admin.key",
      "-out",
      "admin.csr",
      "-subj",
      "/O=system:masters/CN=dind-k8s-cert-admin",
    ],
    pki,
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      "admin.csr",
      "-CA",
      "client-ca.crt",
      "-CAkey",
      "client-ca.key",
      "-CAcreateserial",
      "-out",
      "admin.crt",
      "-days",
      "2",
    ],
    pki,
  );
  return {
    caFile: join(pki, "client-ca.crt"),
    certPem: await readFile(join(pki, "admin.crt"), "utf8"),
    keyPem: await readFile(join(pki, "admin.key"), "utf8"),
  };
}

/**
 * Starts etcd and a kube-apiserver with RBAC on, a token-file admin (system:masters) and
 * ServiceAccount token signing, so tests can act as restricted identities through TokenRequest.
 * No kubelet, scheduler or controller-manager: tests play their parts (see test/helpers/kube.ts).
 */
export async function startCluster(
  parts: { etcd: string; kubeApiserver: string },
  runDir: string,
): Promise<RunningCluster> {
  const daemons: Daemon[] = [];
  try {
    const etcd = await startEtcd(parts.etcd, runDir);
    daemons.push(etcd.daemon);

    const pki = join(runDir, "pki");
    await mkdir(pki, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const saKey = join(pki, "sa.key");
    const saPub = join(pki, "sa.pub");
    await writeFile(saKey, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    await writeFile(saPub, publicKey.export({ type: "spki", format: "pem" }));
    const adminToken = randomBytes(24).toString("hex");
    const tokenFile = join(pki, "tokens.csv");
    await writeFile(tokenFile, `${adminToken},dind-k8s-test-admin,admin-uid,"system:masters"\n`, {
      mode: 0o600,
    });

    const clientCerts = await clientCertificates(pki);

    const port = await freePort();
    const server = `https://127.0.0.1:${port}`;
    const certDir = join(pki, "serving");
    const logFile = join(runDir, "kube-apiserver.log");
    const apiserver = Daemon.start(
      "kube-apiserver",
      parts.kubeApiserver,
      [
        `--etcd-servers=${etcd.url}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${port}`,
        // Without --tls-cert-file the apiserver writes a self-signed CA + serving cert (SANs include 127.0.0.1).
        `--cert-dir=${certDir}`,
        "--authorization-mode=RBAC",
        `--token-auth-file=${tokenFile}`,
        `--client-ca-file=${clientCerts.caFile}`,
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        // The runner Pod's dind sidecar is privileged in the default profile.
        "--allow-privileged=true",
        // No Endpoints for the "kubernetes" Service: its address would be loopback, which Endpoints refuse.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        "--v=1",
      ],
      logFile,
    );
    daemons.push(apiserver);

    let caPem = "";
    await waitUntil(
      "kube-apiserver",
      async () => {
        if (!caPem) caPem = await readFile(join(certDir, "apiserver.crt"), "utf8");
        const { status } = await apiGet(server, caPem, adminToken, "/readyz");
        return status === 200;
      },
      { timeoutMs: 90_000, exited: apiserver.exited, logFile },
    );
    const version = JSON.parse((await apiGet(server, caPem, adminToken, "/version")).body) as {
      gitVersion: string;
    };

    const adminKubeconfigPath = join(runDir, "admin.kubeconfig");
    await writeFile(adminKubeconfigPath, adminKubeconfigYaml(server, caPem, adminToken), { mode: 0o600 });
    return {
      server,
      caPem,
      adminToken,
      adminClientCert: { certPem: clientCerts.certPem, keyPem: clientCerts.keyPem },
      adminKubeconfigPath,
      version: version.gitVersion,
      daemons,
    };
  } catch (error: unknown) {
    for (const daemon of daemons.reverse()) await daemon.stop();
    throw error;
  }
}
