// Docker daemons of a test's own (started late, with TLS, with vfs …) next to the run's shared one.
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Daemon } from "../env/daemon.ts";

const execFileAsync = promisify(execFile);

export interface OwnDockerd {
  /** unix://… of its socket. */
  host: string;
  socketPath: string;
  logFile: string;
  stop(): Promise<void>;
}

export interface OwnDockerdOptions {
  dockerd: string;
  /** Its data root, exec root, pidfile, socket and log go under here. */
  dir: string;
  storageDriver?: string;
  /** Also listen on 127.0.0.1:port with --tlsverify, using this server cert dir (ca.pem, cert.pem, key.pem). */
  tls?: { port: number; serverCertDir: string };
}

/**
 * Starts a dockerd that stays out of the shared daemon's way: its own dirs, no default bridge and no
 * iptables rules. It is not waited for — tests decide when to wait, and how.
 */
export async function startOwnDockerd(options: OwnDockerdOptions): Promise<OwnDockerd> {
  await mkdir(options.dir, { recursive: true });
  const socketPath = join(options.dir, "docker.sock");
  const logFile = join(options.dir, "dockerd.log");
  const args = [
    `--host=unix://${socketPath}`,
    `--data-root=${join(options.dir, "data")}`,
    `--exec-root=${join(options.dir, "exec")}`,
    `--pidfile=${join(options.dir, "docker.pid")}`,
    "--bridge=none",
    "--iptables=false",
  ];
  if (options.storageDriver) args.push(`--storage-driver=${options.storageDriver}`);
  if (options.tls) {
    const certs = options.tls.serverCertDir;
    args.push(
      `--host=tcp://127.0.0.1:${options.tls.port}`,
      "--tlsverify",
      `--tlscacert=${join(certs, "ca.pem")}`,
      `--tlscert=${join(certs, "cert.pem")}`,
      `--tlskey=${join(certs, "key.pem")}`,
    );
  }
  const daemon = Daemon.start("dockerd", options.dockerd, args, logFile);
  return { host: `unix://${socketPath}`, socketPath, logFile, stop: () => daemon.stop() };
}

/** Resolves once dockerd logs that it serves every API address it was given. */
export async function waitForServing(
  daemon: OwnDockerd,
  listeners: number,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const log = await readFile(daemon.logFile, "utf8").catch(() => "");
    if ((log.match(/API listen on /g) ?? []).length >= listeners) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`dockerd did not serve within ${timeoutMs / 1000} s; see ${daemon.logFile}`);
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  await execFileAsync("openssl", args, { cwd });
}

export interface TlsDirs {
  /** ca.pem, cert.pem, key.pem for dockerd (SAN localhost and 127.0.0.1). */
  server: string;
  /** ca.pem, cert.pem, key.pem for clients (extendedKeyUsage clientAuth): what docker:dind puts in /certs/client. */
  client: string;
  /** The CA's own key and cert. */
  ca: string;
}

/** A CA, a server and a client certificate, made the way docker:dind's entrypoint makes them. */
export async function makeDindCerts(root: string, name: string): Promise<TlsDirs> {
  const dirs: TlsDirs = { ca: join(root, "ca"), server: join(root, "server"), client: join(root, "client") };
  for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
  const days = ["-days", "2"];
  await openssl(["genrsa", "-out", "key.pem", "2048"], dirs.ca);
  await openssl(
    ["req", "-new", "-x509", "-key", "key.pem", "-out", "cert.pem", "-subj", `/CN=${name} CA`, ...days],
    dirs.ca,
  );
  const caCert = join(dirs.ca, "cert.pem");
  const caKey = join(dirs.ca, "key.pem");
  const leaf = async (dir: string, subject: string, extensions: string) => {
    await openssl(["genrsa", "-out", "key.pem", "2048"], dir);
    await openssl(["req", "-new", "-key", "key.pem", "-out", "csr.pem", "-subj", subject], dir);
    await writeFile(join(dir, "openssl.cnf"), extensions);
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        "csr.pem",
        "-CA",
        caCert,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-extfile",
        "openssl.cnf",
        ...days,
      ],
      dir,
    );
    await execFileAsync("cp", [caCert, join(dir, "ca.pem")]);
  };
  await leaf(
    dirs.server,
    "/CN=localhost",
    "subjectAltName = DNS:localhost, IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
  );
  await leaf(dirs.client, `/CN=${name} client`, "extendedKeyUsage = clientAuth\n");
  return dirs;
}
