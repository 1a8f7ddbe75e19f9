// The scaler's Kubernetes transport: JSON over one keep-alive connection pool, authenticated as a kubeconfig or
// an in-cluster ServiceAccount says. It is small on purpose. The scaler makes about a dozen kinds of request,
// and @kubernetes/client-node costs ~90 MB of RSS just to load (measured with `node -e "import(...)"`), most of
// the scaler's memory budget. Bodies are the apiserver's JSON as sent: timestamps stay RFC 3339 strings.
import { execFile } from "node:child_process";
import { access, constants, readFile } from "node:fs/promises";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";

/** The apiserver answered with an error status. `reason` and `message` come from its Status body. */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  /** e.g. "POST /api/v1/namespaces/ci/pods" */
  readonly request: string;
  readonly status: number;
  /** The Status reason (AlreadyExists, Conflict, Forbidden, …), when the body was a Status. */
  readonly reason: string | undefined;
  /** The apiserver's own words (the Status message), or the start of the body. */
  readonly detail: string;
  /** Seconds, from the Retry-After header (429/503), when there was one. */
  readonly retryAfterS: number | undefined;
  /** "HTTP 409: the apiserver's words", without the request (for messages that name the object themselves). */
  readonly summary: string;

  constructor(fields: {
    request: string;
    status: number;
    reason?: string | undefined;
    detail: string;
    retryAfterS?: number | undefined;
  }) {
    const summary = `HTTP ${fields.status}${fields.detail ? `: ${fields.detail}` : ""}`;
    super(`${fields.request}: ${summary}`);
    this.summary = summary;
    this.request = fields.request;
    this.status = fields.status;
    this.reason = fields.reason;
    this.detail = fields.detail;
    this.retryAfterS = fields.retryAfterS;
  }
}

/** A kubeconfig (or the in-cluster environment) that cannot be used; the message says what to fix. */
export class KubeConfigError extends Error {
  override name = "KubeConfigError";
}

export interface Credentials {
  /** Base URL of the apiserver, e.g. https://10.96.0.1:443. */
  server: string;
  /** PEM of the CA(s) to trust instead of the system store. */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  /** Sent with every request (impersonation). */
  headers?: Record<string, string | string[]>;
  /** The Authorization header for the next request (bearer tokens rotate, so it is asked for each time). */
  authorization?: () => Promise<string | undefined>;
  /** Where the credentials came from, for messages ("kubeconfig /x, context y" or "in-cluster"). */
  source: string;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** Defaults to application/json when there is a body. */
  contentType?: string;
  /** Milliseconds before the request is abandoned; 0 for none (watches end by their own timeoutSeconds). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class KubeClient {
  readonly source: string;
  readonly #credentials: Credentials;
  readonly #base: URL;
  readonly #agent: HttpAgent;
  readonly #request: typeof httpsRequest;

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
    this.source = credentials.source;
    try {
      this.#base = new URL(credentials.server);
    } catch {
      throw new KubeConfigError(`${credentials.source}: server "${credentials.server}" is not a URL`);
    }
    if (this.#base.protocol !== "https:" && this.#base.protocol !== "http:") {
      throw new KubeConfigError(
        `${credentials.source}: server "${credentials.server}" must be an https:// (or http://) URL`,
      );
    }
    // Keep-alive, one pool for the process: a TLS handshake per call would dominate intake latency.
    const pool = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16 };
    if (this.#base.protocol === "https:") {
      this.#agent = new HttpsAgent({
        ...pool,
        ...(credentials.ca ? { ca: credentials.ca } : {}),
        ...(credentials.cert ? { cert: credentials.cert } : {}),
        ...(credentials.key ? { key: credentials.key } : {}),
        ...(credentials.tlsServerName ? { servername: credentials.tlsServerName } : {}),
        rejectUnauthorized: !credentials.insecureSkipTlsVerify,
      });
      this.#request = httpsRequest;
    } else {
      this.#agent = new HttpAgent(pool);
      this.#request = httpRequest as typeof httpsRequest;
    }
  }

  /** A JSON request; resolves with the parsed body of a 2xx answer, rejects with KubeApiError otherwise. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.#send(method, path, options);
    const text = await readText(response);
    if ((response.statusCode ?? 0) >= 300) throw apiError(method, path, response, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A GET whose 2xx answer is handed over unread (a watch or a large list); errors as `request`. */
  async stream(
    path: string,
    options: Omit<RequestOptions, "body" | "contentType"> = {},
  ): Promise<IncomingMessage> {
    const response = await this.#send("GET", path, { timeoutMs: 0, ...options });
    if ((response.statusCode ?? 0) >= 300) throw apiError("GET", path, response, await readText(response));
    return response;
  }

  /** Closes idle connections; requests in flight finish. */
  close(): void {
    this.#agent.destroy();
  }

  async #send(method: string, path: string, options: RequestOptions): Promise<IncomingMessage> {
    const url = new URL(this.#base.pathname.replace(/\/+$/, "") + path, this.#base);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const headers: Record<string, string | string[]> = {
      ...this.#credentials.headers,
      accept: "application/json",
      "user-agent": "dind-k8s",
    };
    const authorization = await this.#credentials.authorization?.();
    if (authorization) headers.authorization = authorization;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers["content-type"] = options.contentType ?? "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise<IncomingMessage>((resolvePromise, reject) => {
      const req = this.#request(url, { method, headers, agent: this.#agent }, resolvePromise);
      req.on("error", (error) =>
        reject(
          new Error(`${method} ${url.pathname} on ${this.#base.host}: ${error.message}`, { cause: error }),
        ),
      );
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () =>
          req.destroy(new Error(`no answer within ${timeoutMs} ms (is the apiserver reachable?)`)),
        );
      }
      req.end(payload);
    });
  }
}

async function readText(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function apiError(method: string, path: string, response: IncomingMessage, text: string): KubeApiError {
  const status = response.statusCode ?? 0;
  let reason: string | undefined;
  let message = text.slice(0, 300);
  try {
    const parsed = JSON.parse(text) as { kind?: string; reason?: string; message?: string };
    if (parsed.kind === "Status") {
      reason = parsed.reason;
      message = parsed.message ?? message;
    }
  } catch {
    // Not a Status (a proxy's HTML page, say): keep the start of the text.
  }
  const retryAfter = Number(response.headers["retry-after"]);
  return new KubeApiError({
    request: `${method} ${path.split("?")[0]}`,
    status,
    reason,
    detail: message,
    retryAfterS:
      response.headers["retry-after"] !== undefined && Number.isFinite(retryAfter) ? retryAfter : undefined,
  });
}

/** The HTTP status of an apiserver error, or undefined for anything else (a network error, a bug). */
export function kubeStatus(error: unknown): number | undefined {
  return error instanceof KubeApiError ? error.status : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Where credentials come from.

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** The in-cluster ServiceAccount mount; tests point it elsewhere. */
  serviceAccountDir?: string;
  /** How long a token read from a file is reused before it is read again (kubelet rotates bound tokens). */
  tokenFileTtlMs?: number;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Credentials, in this order: the kubeconfig at `path` (`--kubeconfig`); the first file in $KUBECONFIG; the
 * Pod's ServiceAccount when running in a cluster; ~/.kube/config.
 */
export async function loadKubeClient(path?: string, options: LoadOptions = {}): Promise<KubeClient> {
  const env = options.env ?? process.env;
  if (path) return kubeClientFromFile(path, options);
  const fromEnv = env.KUBECONFIG?.split(delimiter).find(Boolean);
  if (fromEnv) return kubeClientFromFile(fromEnv, options);
  const serviceAccountDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (env.KUBERNETES_SERVICE_HOST && (await exists(join(serviceAccountDir, "token")))) {
    return inClusterClient({ ...options, env, serviceAccountDir });
  }
  const home = join(env.HOME ?? homedir(), ".kube", "config");
  if (await exists(home)) return kubeClientFromFile(home, options);
  throw new KubeConfigError(
    "no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, or run in a Pod with a ServiceAccount token " +
      `(${serviceAccountDir}/token and KUBERNETES_SERVICE_HOST)`,
  );
}

async function exists(path: string): Promise<boolean> {
  return access(path, constants.R_OK).then(
    () => true,
    () => false,
  );
}

/** The Pod's ServiceAccount: token and CA from the mount, the apiserver from the Service environment. */
export async function inClusterClient(options: LoadOptions = {}): Promise<KubeClient> {
  const env = options.env ?? process.env;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host)
    throw new KubeConfigError("in-cluster: KUBERNETES_SERVICE_HOST is not set (not running in a Pod?)");
  const source = "in-cluster ServiceAccount";
  const ca = await readFile(join(dir, "ca.crt")).catch((error: NodeJS.ErrnoException) => {
    throw new KubeConfigError(
      `${source}: cannot read ${join(dir, "ca.crt")} (${error.code ?? error.message})`,
    );
  });
  const token = tokenFromFile(join(dir, "token"), source, options.tokenFileTtlMs);
  await token(); // Fail at startup, not on the first request, when the token is unreadable.
  return new KubeClient({
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca,
    authorization: async () => `Bearer ${await token()}`,
    source,
  });
}

/** A token file read again after `ttlMs`: kubelet replaces a bound ServiceAccount token well before it expires. */
function tokenFromFile(path: string, source: string, ttlMs = 60_000): () => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < ttlMs) return cached.token;
    let token: string;
    try {
      token = (await readFile(path, "utf8")).trim();
    } catch (error: unknown) {
      // A token that cannot be re-read is kept while it may still be valid; the apiserver says when it is not.
      if (cached) return cached.token;
      throw new KubeConfigError(
        `${source}: cannot read the token file ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      );
    }
    if (!token) throw new KubeConfigError(`${source}: the token file ${path} is empty`);
    cached = { token, at: Date.now() };
    return token;
  };
}

export async function kubeClientFromFile(path: string, options: LoadOptions = {}): Promise<KubeClient> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error: unknown) {
    throw new KubeConfigError(
      `kubeconfig ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  return kubeClientFromConfig(text, { ...options, path: resolve(path) });
}

type NamedEntry = { name?: string } & Record<string, unknown>;

interface KubeconfigCluster {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
}

interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  "auth-provider"?: { name?: string };
  as?: string;
  "as-groups"?: string[];
  "as-uid"?: string;
}

interface ExecConfig {
  command?: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
}

/**
 * A client for the current context of a kubeconfig (YAML or JSON text). Relative file paths in it are taken from
 * the directory of `path`, as kubectl does.
 */
export async function kubeClientFromConfig(
  text: string,
  options: LoadOptions & { path?: string } = {},
): Promise<KubeClient> {
  const where = options.path ? `kubeconfig ${options.path}` : "kubeconfig";
  let doc: Record<string, unknown>;
  try {
    doc = (parseYaml(text) ?? {}) as Record<string, unknown>;
  } catch (error: unknown) {
    throw new KubeConfigError(`${where}: not valid YAML (${error instanceof Error ? error.message : error})`);
  }
  const contextName = doc["current-context"];
  if (typeof contextName !== "string" || !contextName) {
    throw new KubeConfigError(
      `${where}: current-context is not set; choose one with kubectl config use-context`,
    );
  }
  const pick = <T>(list: string, name: string, field: string): T => {
    const entries = (doc[list] ?? []) as NamedEntry[];
    const entry = Array.isArray(entries) ? entries.find((item) => item?.name === name) : undefined;
    if (!entry || typeof entry[field] !== "object" || entry[field] === null) {
      throw new KubeConfigError(
        `${where}: ${list} has no entry named "${name}" (used by context "${contextName}")`,
      );
    }
    return entry[field] as T;
  };
  const context = pick<{ cluster?: string; user?: string }>("contexts", contextName, "context");
  if (!context.cluster) throw new KubeConfigError(`${where}: context "${contextName}" names no cluster`);
  const cluster = pick<KubeconfigCluster>("clusters", context.cluster, "cluster");
  const user = context.user ? pick<KubeconfigUser>("users", context.user, "user") : {};
  const source = `${where}, context "${contextName}"`;
  const base = options.path ? dirname(options.path) : process.cwd();
  const file = (name: string) => (isAbsolute(name) ? name : join(base, name));
  const readPem = async (field: string, data: string | undefined, path: string | undefined) => {
    if (data) return Buffer.from(data, "base64");
    if (!path) return undefined;
    return readFile(file(path)).catch((error: NodeJS.ErrnoException) => {
      throw new KubeConfigError(
        `${source}: ${field} ${file(path)}: cannot read it (${error.code ?? error.message})`,
      );
    });
  };

  if (!cluster.server) throw new KubeConfigError(`${source}: cluster "${context.cluster}" has no server`);
  if (cluster["proxy-url"]) {
    throw new KubeConfigError(`${source}: proxy-url is not supported; reach the apiserver directly`);
  }
  if (user["auth-provider"]) {
    throw new KubeConfigError(
      `${source}: auth-provider "${user["auth-provider"].name ?? "?"}" is not supported; use an exec credential ` +
        "plugin or a token",
    );
  }
  let authorization: (() => Promise<string | undefined>) | undefined;
  if (user.token) {
    const header = `Bearer ${user.token}`;
    authorization = async () => header;
  } else if (user.tokenFile) {
    const token = tokenFromFile(file(user.tokenFile), source, options.tokenFileTtlMs);
    await token();
    authorization = async () => `Bearer ${await token()}`;
  } else if (user.exec) {
    authorization = execCredential(user.exec, source, options.env ?? process.env);
  } else if (user.username !== undefined && user.password !== undefined) {
    const header = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`;
    authorization = async () => header;
  }
  const impersonate: Record<string, string | string[]> = {
    ...(user.as ? { "impersonate-user": user.as } : {}),
    ...(user["as-groups"]?.length ? { "impersonate-group": user["as-groups"] } : {}),
    ...(user["as-uid"] ? { "impersonate-uid": user["as-uid"] } : {}),
  };
  const ca = await readPem(
    "certificate-authority",
    cluster["certificate-authority-data"],
    cluster["certificate-authority"],
  );
  const cert = await readPem(
    "client-certificate",
    user["client-certificate-data"],
    user["client-certificate"],
  );
  const key = await readPem("client-key", user["client-key-data"], user["client-key"]);
  if (Boolean(cert) !== Boolean(key)) {
    throw new KubeConfigError(`${source}: a client certificate needs its key (and a key its certificate)`);
  }
  return new KubeClient({
    server: cluster.server,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(cluster["insecure-skip-tls-verify"] ? { insecureSkipTlsVerify: true } : {}),
    ...(cluster["tls-server-name"] ? { tlsServerName: cluster["tls-server-name"] } : {}),
    ...(authorization ? { authorization } : {}),
    ...(Object.keys(impersonate).length > 0 ? { headers: impersonate } : {}),
    source,
  });
}

/**
 * A client.authentication.k8s.io exec plugin (aws eks get-token, gke-gcloud-auth-plugin, kubelogin): run it for
 * a token, and again once the token it gave has expired. Plugins that answer with client certificates are not
 * supported (the connection pool's TLS identity is fixed).
 */
function execCredential(
  exec: ExecConfig,
  source: string,
  env: NodeJS.ProcessEnv,
): () => Promise<string | undefined> {
  if (!exec.command) throw new KubeConfigError(`${source}: users[].user.exec has no command`);
  let cached: { header: string; expires: number } | undefined;
  let running: Promise<string> | undefined;
  const run = () =>
    new Promise<string>((resolvePromise, reject) => {
      const info = {
        apiVersion: exec.apiVersion ?? "client.authentication.k8s.io/v1",
        kind: "ExecCredential",
        spec: { interactive: false },
      };
      const childEnv = {
        ...env,
        ...Object.fromEntries((exec.env ?? []).map(({ name, value }) => [name, value])),
        KUBERNETES_EXEC_INFO: JSON.stringify(info),
      };
      execFile(
        exec.command!,
        exec.args ?? [],
        { env: childEnv, timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error) {
            reject(
              new KubeConfigError(
                `${source}: exec credential plugin ${exec.command} failed (${error.message.split("\n")[0]})${stderr ? `: ${stderr.trim().slice(0, 300)}` : ""}`,
              ),
            );
            return;
          }
          let status:
            | { token?: string; expirationTimestamp?: string; clientCertificateData?: string }
            | undefined;
          try {
            status = (JSON.parse(stdout) as { status?: typeof status }).status;
          } catch {
            reject(
              new KubeConfigError(
                `${source}: exec credential plugin ${exec.command} printed no ExecCredential JSON`,
              ),
            );
            return;
          }
          if (!status?.token) {
            reject(
              new KubeConfigError(
                `${source}: exec credential plugin ${exec.command} gave ${status?.clientCertificateData ? "a client certificate" : "no token"}; only token credentials are supported`,
              ),
            );
            return;
          }
          const expires = status.expirationTimestamp
            ? Date.parse(status.expirationTimestamp)
            : Number.POSITIVE_INFINITY;
          cached = { header: `Bearer ${status.token}`, expires };
          resolvePromise(cached.header);
        },
      );
    });
  return async () => {
    // Renew a little early: a token that expires in flight earns a 401.
    if (cached && Date.now() < cached.expires - 30_000) return cached.header;
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };
}
