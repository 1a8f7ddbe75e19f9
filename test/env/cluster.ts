import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { apiGet, kubeconfigYaml } from "./api.ts";
import { type ControlPlaneAccess, startControllers } from "./controllers.ts";
import { Daemon } from "./daemon.ts";
import { startKwok } from "./kwok.ts";
import { freePort, waitUntil } from "./net.ts";

export interface RunningCluster {
  server: string;
  caPem: string;
  adminToken: string;
  adminClientCert: { certPem: string; keyPem: string };
  adminKubeconfigPath: string;
  version: string;
  daemons: Pick<Daemon, "stop">[];
  /**
   * Stops kube-apiserver (SIGTERM: it drains, as on a control-plane upgrade) and starts it again on the same port,
   * etcd and certificates; resolves once it is ready again. For the bench of an apiserver restart mid-burst.
   */
  restartApiserver(): Promise<void>;
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

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args[0]} failed: ${stderr || error.message}`));
      else resolve();
    });
  });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A client CA for --client-ca-file: kubeconfigs of kind, minikube and kubeadm authenticate with its certificates. */
async function makeClientCa(pki: string): Promise<string> {
  await openssl(
    [
      "req",
      "-x509",
      ...EC_KEY,
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
  return join(pki, "client-ca.crt");
}

/**
 * A client certificate the client CA signed: the apiserver takes CN as the user name and each O as a group (the
 * admin is in system:masters; the scheduler and controller-manager are the users the built-in RBAC binds).
 */
async function signClientCertificate(
  pki: string,
  name: string,
  subject: string,
): Promise<{ certPem: string; keyPem: string }> {
  await openssl(["req", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject], pki);
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "client-ca.crt",
      "-CAkey",
      "client-ca.key",
      // A serial of its own: certificates signed at the same time would race on a shared serial file.
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
      "-out",
      `${name}.crt`,
      "-days",
      "2",
    ],
    pki,
  );
  return {
    certPem: await readFile(join(pki, `${name}.crt`), "utf8"),
    keyPem: await readFile(join(pki, `${name}.key`), "utf8"),
  };
}

/**
 * Starts etcd and a kube-apiserver with RBAC on, a token-file admin (system:masters) and
 * ServiceAccount token signing, so tests can act as restricted identities through TokenRequest;
 * then the real kube-scheduler and kube-controller-manager, each as its own user (see controllers.ts), and kwok
 * with its fake Nodes as their kubelets (see kwok.ts).
 */
export async function startCluster(
  parts: {
    etcd: string;
    kubeApiserver: string;
    kubeScheduler: string;
    kubeControllerManager: string;
    kwok: string;
  },
  runDir: string,
): Promise<RunningCluster> {
  const daemons: Pick<Daemon, "stop">[] = [];
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

    const clientCaFile = await makeClientCa(pki);
    const adminClientCert = await signClientCertificate(
      pki,
      "admin",
      "/O=system:masters/CN=dind-k8s-cert-admin",
    );

    const port = await freePort();
    const server = `https://127.0.0.1:${port}`;
    const certDir = join(pki, "serving");
    const logFile = join(runDir, "kube-apiserver.log");
    const startApiserver = () =>
      Daemon.start(
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
          `--client-ca-file=${clientCaFile}`,
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
    let apiserver = startApiserver();
    daemons.push({ stop: () => apiserver.stop() });

    let caPem = "";
    const ready = () =>
      waitUntil(
        "kube-apiserver",
        async () => {
          if (!caPem) caPem = await readFile(join(certDir, "apiserver.crt"), "utf8");
          const { status } = await apiGet(server, caPem, adminToken, "/readyz");
          return status === 200;
        },
        { timeoutMs: 90_000, exited: apiserver.exited, logFile },
      );
    await ready();
    const version = JSON.parse((await apiGet(server, caPem, adminToken, "/version")).body) as {
      gitVersion: string;
    };

    const adminKubeconfigPath = join(runDir, "admin.kubeconfig");
    await writeFile(adminKubeconfigPath, kubeconfigYaml(server, caPem, "admin", { token: adminToken }), {
      mode: 0o600,
    });

    const access: ControlPlaneAccess = {
      server,
      caPem,
      caFile: join(certDir, "apiserver.crt"),
      adminToken,
      serviceAccountKeyFile: saKey,
      signClientCertificate: (name, user) => signClientCertificate(pki, name, `/CN=${user}`),
    };
    daemons.push(
      ...(await startControllers(
        { kubeScheduler: parts.kubeScheduler, kubeControllerManager: parts.kubeControllerManager },
        access,
        runDir,
      )),
    );
    daemons.push(await startKwok(parts.kwok, access, runDir));
    return {
      server,
      caPem,
      adminToken,
      adminClientCert,
      adminKubeconfigPath,
      version: version.gitVersion,
      daemons,
      async restartApiserver() {
        await apiserver.stop();
        // Its serving certificate stays in --cert-dir, so clients keep trusting the same CA.
        apiserver = startApiserver();
        await ready();
      },
    };
  } catch (error: unknown) {
    for (const daemon of daemons.reverse()) await daemon.stop();
    throw error;
  }
}
