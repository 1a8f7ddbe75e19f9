// Where the scaler's Kubernetes credentials come from, in kubectl's order: `--kubeconfig`; the files of
// $KUBECONFIG, merged as client-node merges them; the Pod's ServiceAccount; ~/.kube/config. Reading and merging
// kubeconfigs, token files, exec plugins and auth providers are client-node's; what is here is the order and the
// checks that turn a kubeconfig client-node would only fail on at the first request (or never: it would send no
// credentials) into a startup error that names the file, the context and what to change.
import { accessSync, constants, existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, type KubeClientOptions, PooledKubeConfig } from "./client.ts";

/** A kubeconfig (or the in-cluster environment) that cannot be used; the message says what to fix. */
export class KubeConfigError extends Error {
  override name = "KubeConfigError";
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface LoadOptions extends KubeClientOptions {
  /**
   * Prefix of the in-cluster ServiceAccount mount (client-node's `loadFromCluster(pathPrefix)`): tests put a fake
   * one under a temp dir.
   */
  serviceAccountRoot?: string;
}

/**
 * Credentials, in kubectl's order: the kubeconfig at `path` (`--kubeconfig`); the files in $KUBECONFIG, merged;
 * the Pod's ServiceAccount when running in a cluster; ~/.kube/config.
 */
export function loadKubeClient(path?: string, options: LoadOptions = {}): KubeClient {
  if (path) return fromFiles([path], options);
  const listed = (process.env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (listed.length > 0) return fromFiles(listed, options);
  const root = options.serviceAccountRoot ?? "";
  const serviceAccount = `${root}${SERVICE_ACCOUNT_DIR}`;
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(serviceAccount, "token"))) {
    const config = new PooledKubeConfig();
    config.loadFromCluster(root);
    return checked(config, "in-cluster ServiceAccount", options);
  }
  const home = join(process.env.HOME ?? homedir(), ".kube", "config");
  if (existsSync(home)) return fromFiles([home], options);
  throw new KubeConfigError(
    "no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, or run in a Pod with a ServiceAccount token " +
      `(${serviceAccount}/token and KUBERNETES_SERVICE_HOST), or write ${home}`,
  );
}

/** A client with the credentials of `config` (tests hand in KubeConfigs they built). */
export function kubeClientFromKubeConfig(
  config: KubeConfig,
  source = "kubeconfig",
  options: KubeClientOptions = {},
): KubeClient {
  const pooled = new PooledKubeConfig();
  pooled.loadFromOptions({
    clusters: config.getClusters(),
    users: config.getUsers(),
    contexts: config.getContexts(),
    currentContext: config.getCurrentContext(),
  });
  return checked(pooled, source, options);
}

/** The first file, then each further one merged into it (client-node's loadFromDefault, with errors named). */
function fromFiles(files: readonly string[], options: KubeClientOptions): KubeClient {
  const config = new PooledKubeConfig();
  files.forEach((file, index) => {
    const target = index === 0 ? config : new KubeConfig();
    try {
      target.loadFromFile(file);
    } catch (error: unknown) {
      throw new KubeConfigError(`kubeconfig ${file}: ${readable(error)}`);
    }
    if (target === config) return;
    try {
      config.mergeConfig(target);
    } catch (error: unknown) {
      throw new KubeConfigError(
        `kubeconfig ${file}: ${readable(error)} (already defined by ${files.slice(0, index).join(", ")}; ` +
          "give each cluster, user and context of $KUBECONFIG's files its own name)",
      );
    }
  });
  return checked(config, `kubeconfig ${files.join(delimiter)}`, options);
}

function readable(error: unknown): string {
  const errno = error as NodeJS.ErrnoException;
  if (errno?.code && errno.path) return `cannot read ${errno.path} (${errno.code})`;
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

/** client-node's built-in auth providers (its azure, gcp and oidc authenticators); others send no credentials. */
const AUTH_PROVIDERS = new Set(["azure", "gcp", "oidc"]);

/** Checks what client-node would only trip over at the first request, and builds the client. */
function checked(config: PooledKubeConfig, where: string, options: KubeClientOptions): KubeClient {
  const contextName = config.getCurrentContext();
  if (!contextName) {
    throw new KubeConfigError(
      `${where}: current-context is not set; choose one with kubectl config use-context`,
    );
  }
  const context = config.getContextObject(contextName);
  if (!context)
    throw new KubeConfigError(`${where}: contexts has no entry named "${contextName}" (current-context)`);
  const source = where === "in-cluster ServiceAccount" ? where : `${where}, context "${contextName}"`;
  const fail = (problem: string): never => {
    throw new KubeConfigError(`${source}: ${problem}`);
  };
  const cluster = config.getCluster(context.cluster);
  if (!cluster) fail(`clusters has no entry named "${context.cluster}"`);
  const user = context.user ? config.getUser(context.user) : null;
  if (context.user && !user) fail(`users has no entry named "${context.user}"`);

  let server: URL | undefined;
  try {
    server = new URL(cluster!.server);
  } catch {
    fail(`server "${cluster!.server}" is not a URL`);
  }
  if (server!.protocol !== "https:" && server!.protocol !== "http:") {
    fail(`server "${cluster!.server}" must be an https:// (or http://) URL`);
  }
  if (server!.protocol === "http:" && !cluster!.skipTLSVerify) {
    fail(
      `server "${cluster!.server}" is plain http://, which client-node only uses with insecure-skip-tls-verify: true`,
    );
  }
  if (cluster!.proxyUrl) {
    let proxy: URL | undefined;
    try {
      proxy = new URL(cluster!.proxyUrl);
    } catch {
      fail(`proxy-url "${cluster!.proxyUrl}" is not a URL`);
    }
    if (!/^(https?|socks[45]h?|socks4a):$/.test(proxy!.protocol)) {
      fail(`proxy-url "${cluster!.proxyUrl}" must be an http://, https:// or socks5:// URL`);
    }
  }
  const readableFile = (field: string, path: string | undefined) => {
    if (!path) return;
    try {
      accessSync(path, constants.R_OK);
    } catch (error: unknown) {
      fail(`${field} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  };
  readableFile("certificate-authority", cluster!.caFile);
  if (user) {
    readableFile("client-certificate", user.certFile);
    readableFile("client-key", user.keyFile);
    if (Boolean(user.certFile || user.certData) !== Boolean(user.keyFile || user.keyData)) {
      fail(`user "${user.name}": a client certificate needs its key (and a key its certificate)`);
    }
    if (user.exec && !user.exec.command) fail(`user "${user.name}": exec has no command`);
    const provider = user.authProvider as
      | { name?: string; config?: Record<string, unknown> }
      | undefined
      | null;
    if (
      provider &&
      !provider.config?.exec &&
      !provider.config?.tokenFile &&
      !AUTH_PROVIDERS.has(provider.name ?? "")
    ) {
      fail(
        `user "${user.name}": auth-provider "${provider.name ?? "?"}" is not one @kubernetes/client-node knows ` +
          `(${[...AUTH_PROVIDERS].join(", ")}); use an exec credential plugin or a token`,
      );
    }
  }
  return new KubeClient(config, source, options);
}
