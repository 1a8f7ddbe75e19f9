import { execFile, spawn } from "node:child_process";
import { access, constants, mkdir, open, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { actionlintPath, buildActionlint } from "./actionlint.ts";
import {
  ACT_VERSION,
  APT_PACKAGES,
  cacheDir,
  HELM_VERSION,
  KUBERNETES_VERSION,
  KWOK_VERSION,
} from "./versions.ts";

const execFileAsync = promisify(execFile);

/** Absolute paths of the binaries the integration tests run. */
export interface Parts {
  "kube-apiserver": string;
  /** The real scheduler: binds Pods to Nodes. */
  "kube-scheduler": string;
  /** The real controllers: garbage collector, namespace, ServiceAccount and token controllers. */
  "kube-controller-manager": string;
  etcd: string;
  dockerd: string;
  /**
   * A dockerd with `--default-network-opt` (Docker ≥ 24), which the runner Pod's dind command line uses. Debian 12's
   * docker.io is 20.10, so on Debian 12 this is Debian 13's dockerd (it runs there); elsewhere it is `dockerd`.
   */
  "dockerd-network-opt": string;
  helm: string;
  /** The workflow checker `npm run lint` runs (test/env/actionlint.ts). */
  actionlint: string;
  busybox: string;
  /** An HTTP CONNECT proxy: kubeconfigs with `proxy-url` are tested through it. */
  tinyproxy: string;
  /** nektos/act: runs a workflow on this host as a runner would (the action's end-to-end test). */
  act: string;
  /** kwok: the Nodes and their kubelets, playing Stages (see kwok.ts). */
  kwok: string;
}

export class MissingPartError extends Error {
  override name = "MissingPartError";
}

const here = import.meta.dirname;

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function which(name: string, extraDirs: readonly string[] = []): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? "").split(":"), ...extraDirs].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * True when the ELF file has no program interpreter, i.e. is statically linked.
 * A container image made from it needs no libc; Debian's dynamic `busybox` would not run there.
 */
export async function isStaticElf(path: string): Promise<boolean> {
  const file = await open(path, "r");
  try {
    const header = Buffer.alloc(64);
    await file.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) {
      throw new Error(`${path} is not a 64-bit little-endian ELF file`);
    }
    const programHeaderOffset = Number(header.readBigUInt64LE(32));
    const entrySize = header.readUInt16LE(54);
    const entries = header.readUInt16LE(56);
    const table = Buffer.alloc(entrySize * entries);
    await file.read(table, 0, table.length, programHeaderOffset);
    const PT_INTERP = 3;
    for (let i = 0; i < entries; i++) {
      if (table.readUInt32LE(i * entrySize) === PT_INTERP) return false;
    }
    return true;
  } finally {
    await file.close();
  }
}

function log(message: string): void {
  process.stderr.write(`testenv: ${message}\n`);
}

async function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"], env });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", resolve);
  });
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}`);
}

const aptHint = `install them with: sudo apt-get install -y ${APT_PACKAGES.join(" ")}`;

async function findAptParts(): Promise<Pick<Parts, "etcd" | "dockerd" | "busybox" | "tinyproxy"> | string[]> {
  const sbin = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  const etcd = await which("etcd", sbin);
  const dockerd = await which("dockerd", sbin);
  const busybox = (await which("busybox", sbin)) ?? undefined;
  const tinyproxy = await which("tinyproxy", sbin);
  const missing: string[] = [];
  // The test cluster signs a client certificate with it (kubeconfigs with client certificates are tested).
  if (!(await which("openssl", sbin))) missing.push("openssl (Debian package openssl)");
  if (!etcd) missing.push("etcd (Debian package etcd-server)");
  if (!dockerd) missing.push("dockerd (Debian package docker.io)");
  if (!tinyproxy) missing.push("tinyproxy (Debian package tinyproxy)");
  if (!busybox) missing.push("busybox (Debian package busybox-static)");
  else if (!(await isStaticElf(busybox))) {
    missing.push(
      `a static busybox (${busybox} is dynamically linked; Debian package busybox-static replaces it)`,
    );
  }
  if (missing.length > 0 || !etcd || !dockerd || !busybox || !tinyproxy) return missing;
  return { etcd, dockerd, busybox, tinyproxy };
}

async function installAptPackages(): Promise<void> {
  if (process.getuid?.() !== 0 || !(await which("apt-get"))) {
    throw new MissingPartError(`cannot install Debian packages here (not root, or no apt-get); ${aptHint}`);
  }
  log(`installing ${APT_PACKAGES.join(" ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-qq"], env);
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...APT_PACKAGES], env);
}

/** The control plane's commands, built together from one `k8s.io/kubernetes` release. */
const KUBERNETES_COMMANDS = ["kube-apiserver", "kube-scheduler", "kube-controller-manager"] as const;
type KubernetesCommand = (typeof KUBERNETES_COMMANDS)[number];

function kubernetesPaths(): Record<KubernetesCommand, string> {
  const dir = join(cacheDir(), `kubernetes-${KUBERNETES_VERSION}`);
  return {
    "kube-apiserver": join(dir, "kube-apiserver"),
    "kube-scheduler": join(dir, "kube-scheduler"),
    "kube-controller-manager": join(dir, "kube-controller-manager"),
  };
}

async function buildKubernetes(): Promise<Record<KubernetesCommand, string>> {
  const paths = kubernetesPaths();
  const built = await Promise.all(Object.values(paths).map(isExecutable));
  if (built.every(Boolean)) return paths;
  if (!(await which("go"))) {
    throw new MissingPartError(
      `${KUBERNETES_COMMANDS.join(", ")} ${KUBERNETES_VERSION} are not built and 'go' is not on PATH; install Go 1.26+ and rerun 'npm run testenv'`,
    );
  }
  log(
    `building ${KUBERNETES_COMMANDS.join(", ")} ${KUBERNETES_VERSION} from Go modules (first run only, about 10 minutes on 2 cores)`,
  );
  const started = Date.now();
  const { stdout } = await execFileAsync(join(here, "build-kubernetes.sh"), [KUBERNETES_VERSION], {
    env: { ...process.env, DIND_K8S_CACHE: cacheDir() },
    maxBuffer: 64 * 1024 * 1024,
  });
  log(`built ${stdout.trim()} in ${Math.round((Date.now() - started) / 1000)} s`);
  return paths;
}

/** A Go command installed with `go install <module path>@<version>` into the cache, keyed by version. */
interface GoTool {
  /** The binary's name: the last element of the package path. */
  name: string;
  version: string;
  /** Package path of the command, without the version. */
  pkg: string;
  /** Linker flags, e.g. the version stamp the command prints. */
  ldflags: string;
}

const GO_TOOLS = {
  helm: {
    name: "helm",
    version: HELM_VERSION,
    pkg: "helm.sh/helm/v3/cmd/helm",
    ldflags: `-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean`,
  },
  // act's main package reads its version from this variable (its release build stamps it the same way).
  act: {
    name: "act",
    version: ACT_VERSION,
    pkg: "github.com/nektos/act",
    ldflags: `-s -w -X main.version=${ACT_VERSION}`,
  },
  // kwok's version is a constant of its source; nothing to stamp.
  kwok: { name: "kwok", version: KWOK_VERSION, pkg: "sigs.k8s.io/kwok/cmd/kwok", ldflags: "-s -w" },
} as const satisfies Record<string, GoTool>;

function goToolPath(tool: GoTool): string {
  return join(cacheDir(), `${tool.name}-${tool.version}`, tool.name);
}

/**
 * `go install` into a staging dir renamed into place whole, so an interrupted build never leaves a binary that
 * looks finished.
 */
async function goInstall(tool: GoTool): Promise<string> {
  const bin = goToolPath(tool);
  if (await isExecutable(bin)) return bin;
  if (!(await which("go"))) {
    throw new MissingPartError(
      `${tool.name} ${tool.version} is not built and 'go' is not on PATH; install Go and rerun`,
    );
  }
  log(`building ${tool.name} ${tool.version} with go install (first run only)`);
  const started = Date.now();
  const dir = dirname(bin);
  const staging = `${dir}.partial`;
  await mkdir(staging, { recursive: true });
  await run("go", ["install", "-trimpath", `-ldflags=${tool.ldflags}`, `${tool.pkg}@${tool.version}`], {
    ...process.env,
    GOBIN: staging,
    CGO_ENABLED: "0",
  });
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  log(`built ${bin} in ${Math.round((Date.now() - started) / 1000)} s`);
  return bin;
}

async function supportsDefaultNetworkOpt(dockerd: string): Promise<boolean> {
  const { stdout } = await execFileAsync(dockerd, ["--help"]).catch(() => ({ stdout: "" }));
  return stdout.includes("--default-network-opt");
}

const DOCKERD_TRIXIE = () => join(cacheDir(), "dockerd-debian-trixie", "usr", "sbin", "dockerd");

/**
 * A Debian 13 package unpacked under `root` with apt's own download (private lists and sources, so the machine's apt
 * configuration is untouched). Its Go binaries (dockerd, etcd) run on Debian 12.
 */
async function unpackTrixiePackage(name: string, root: string): Promise<void> {
  const apt = join(root, "apt");
  await mkdir(join(apt, "lists", "partial"), { recursive: true });
  await mkdir(join(apt, "cache", "archives", "partial"), { recursive: true });
  await writeFile(
    join(apt, "sources.list"),
    "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n",
  );
  const options = [
    `-o=Dir::Etc::SourceList=${join(apt, "sources.list")}`,
    "-o=Dir::Etc::SourceParts=/dev/null",
    `-o=Dir::State::Lists=${join(apt, "lists")}`,
    `-o=Dir::Cache=${join(apt, "cache")}`,
    "-o=APT::Sandbox::User=root",
  ];
  await execFileAsync("apt-get", ["-q", ...options, "update"], { timeout: 300_000 });
  await execFileAsync("apt-get", ["-q", ...options, "download", name], { cwd: apt, timeout: 300_000 });
  const debs = (await readdir(apt)).filter((file) => file.startsWith(`${name}_`) && file.endsWith(".deb"));
  if (debs.length === 0) throw new MissingPartError(`apt-get download ${name} left no package in ${apt}`);
  await execFileAsync("dpkg-deb", ["-x", join(apt, debs[0]!), root]);
}

async function fetchTrixieDockerd(): Promise<string> {
  log("fetching Debian 13's docker.io for a dockerd with --default-network-opt (first run only)");
  await unpackTrixiePackage("docker.io", join(cacheDir(), "dockerd-debian-trixie"));
  const dockerd = DOCKERD_TRIXIE();
  if (!(await supportsDefaultNetworkOpt(dockerd))) {
    throw new MissingPartError(`${dockerd} (Debian 13's docker.io) has no --default-network-opt`);
  }
  return dockerd;
}

/**
 * True when this etcd answers watch progress requests correctly (3.4.31+, 3.5.13+): only then does kube-apiserver
 * serve streaming lists (`sendInitialEvents`), which kwok's client asks for on every watch it opens. Refused, each
 * of kwok's watches ends at once and it sees Pods only at its next relist, up to 30 s late.
 */
async function supportsWatchProgress(etcd: string): Promise<boolean> {
  const { stdout } = await execFileAsync(etcd, ["--version"]).catch(() => ({ stdout: "" }));
  const match = /etcd Version: (\d+)\.(\d+)\.(\d+)/.exec(stdout);
  if (!match) return false;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  if (major !== 3) return major > 3;
  return minor > 5 || (minor === 5 && patch >= 13) || (minor === 4 && patch >= 31);
}

const ETCD_TRIXIE = () => join(cacheDir(), "etcd-debian-trixie", "usr", "bin", "etcd");

/** Debian 12's etcd (3.4.23) is too old for watch progress requests; Debian 13's etcd-server (3.5) is not. */
async function findWatchProgressEtcd(etcd: string, install: boolean): Promise<string> {
  if (await supportsWatchProgress(etcd)) return etcd;
  if (await supportsWatchProgress(ETCD_TRIXIE())) return ETCD_TRIXIE();
  if (!install) {
    throw new MissingPartError(
      `${etcd} is older than 3.4.31 and Debian 13's etcd is not in ${cacheDir()}; run 'npm run testenv'`,
    );
  }
  log("fetching Debian 13's etcd-server for an etcd with watch progress requests (first run only)");
  await unpackTrixiePackage("etcd-server", join(cacheDir(), "etcd-debian-trixie"));
  if (!(await supportsWatchProgress(ETCD_TRIXIE()))) {
    throw new MissingPartError(`${ETCD_TRIXIE()} (Debian 13's etcd-server) is older than 3.5.13`);
  }
  return ETCD_TRIXIE();
}

async function findNetworkOptDockerd(dockerd: string, install: boolean): Promise<string> {
  if (await supportsDefaultNetworkOpt(dockerd)) return dockerd;
  if (await supportsDefaultNetworkOpt(DOCKERD_TRIXIE())) return DOCKERD_TRIXIE();
  if (!install) {
    throw new MissingPartError(
      `${dockerd} has no --default-network-opt and Debian 13's dockerd is not in ${cacheDir()}; run 'npm run testenv'`,
    );
  }
  return fetchTrixieDockerd();
}

/**
 * Finds every part, installing or building what is missing when `install` is set.
 * Throws MissingPartError naming each missing part and how to get it.
 */
export async function prepareParts({ install }: { install: boolean }): Promise<Parts> {
  let apt = await findAptParts();
  if (Array.isArray(apt) && install) {
    log(`missing: ${apt.join(", ")}`);
    await installAptPackages();
    apt = await findAptParts();
  }
  if (Array.isArray(apt)) {
    throw new MissingPartError(`missing test environment parts: ${apt.join("; ")}; ${aptHint}`);
  }
  // The Go builds side by side: on a new machine one's module downloads overlap another's compiling (the Go
  // build and module caches are safe to share between concurrent builds).
  const [kubernetes, helm, act, kwok, actionlint] = install
    ? await Promise.all([
        buildKubernetes(),
        goInstall(GO_TOOLS.helm),
        goInstall(GO_TOOLS.act),
        goInstall(GO_TOOLS.kwok),
        buildActionlint(log),
      ])
    : [
        kubernetesPaths(),
        goToolPath(GO_TOOLS.helm),
        goToolPath(GO_TOOLS.act),
        goToolPath(GO_TOOLS.kwok),
        actionlintPath(),
      ];
  const built: [string, string][] = [
    ...Object.entries(kubernetes),
    ["helm", helm],
    ["act", act],
    ["kwok", kwok],
    ["actionlint", actionlint],
  ];
  for (const [name, path] of built) {
    if (!(await isExecutable(path))) {
      throw new MissingPartError(`${name} is not built at ${path}; run 'npm run testenv' to build it`);
    }
  }
  return {
    ...kubernetes,
    etcd: await findWatchProgressEtcd(apt.etcd, install),
    dockerd: apt.dockerd,
    "dockerd-network-opt": await findNetworkOptDockerd(apt.dockerd, install),
    helm,
    actionlint,
    busybox: apt.busybox,
    tinyproxy: apt.tinyproxy,
    act,
    kwok,
  };
}
