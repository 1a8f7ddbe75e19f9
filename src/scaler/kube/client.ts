// The scaler's Kubernetes client: @kubernetes/client-node's KubeConfig for every credential, its typed API
// clients and Watch for every request, and one keep-alive connection pool under all of them.
//
// Why the pool needs help: client-node 2.x builds a new undici Agent inside applySecurityAuthentication for every
// request whose cluster has TLS settings (a CA, a client certificate), so each call opens a new TCP connection and
// TLS handshake, and the old Agents linger until their sockets time out. PooledKubeConfig overrides that one
// public method, which every typed API client (through `authMethods.default`) and every Watch goes through: it
// asks client-node for the credentials and for the dispatcher it *would* build (createDispatcherOptions), and
// reuses the dispatcher it already has for identical settings. When the settings change (an exec plugin hands
// out a new client certificate, a CA file is rotated) a new pool is built and the old one closed.
import { createHash } from "node:crypto";
import type { AgentOptions, RequestOptions } from "node:https";
import {
  type ApiConstructor,
  type ApiType,
  type Configuration,
  createConfiguration,
  type DispatcherOptions,
  KubeConfig,
  type RequestContext,
  ServerConfiguration,
  Watch,
} from "@kubernetes/client-node";

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/** How long a replaced pool stays open for requests already handed it, before it is closed. */
const RETIRE_AFTER_MS = 60_000;

/** A KubeConfig whose requests share one connection pool per set of TLS settings (in practice: one). */
export class PooledKubeConfig extends KubeConfig {
  /** Pool by settings key; `undefined` means client-node wants undici's global dispatcher (no TLS settings). */
  readonly #pools = new Map<string, Dispatcher | undefined>();
  #created = 0;

  /** How many pools this config has built (1 while its credentials' TLS settings stay the same). */
  get poolsCreated(): number {
    return this.#created;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    // client-node's own view of the request's credentials: CA, client certificate (also from an exec plugin),
    // server name, skip-verify, Authorization (token, token file, exec plugin, auth provider), impersonation.
    const options: RequestOptions = {};
    await this.applyToHTTPSOptions(options);
    const key = poolKey(this.createDispatcherOptions(this.getCurrentCluster(), tlsOf(options)));
    if (!this.#pools.has(key)) {
      // First request with these settings: let client-node build the request in full, and keep its dispatcher.
      // (So this one request asks for credentials twice; cached ones — exec tokens until they expire, token
      // files for a minute — are not fetched again.)
      await super.applySecurityAuthentication(context);
      this.#retireAll();
      this.#pools.set(key, context.getDispatcher());
      this.#created++;
      return;
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (value !== undefined) context.setHeaderParam(name, String(value));
    }
    if (options.auth) {
      context.setHeaderParam("Authorization", `Basic ${Buffer.from(options.auth).toString("base64")}`);
    }
    const pool = this.#pools.get(key);
    if (pool) context.setDispatcher(pool);
  }

  /** Closes the pools: idle connections at once, busy ones when their requests (and watches) end. */
  async closePools(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool?.close().catch(() => undefined)));
  }

  #retireAll(): void {
    for (const [key, pool] of this.#pools) {
      this.#pools.delete(key);
      // Requests may hold it already (they picked it before this one): give them time to be sent.
      if (pool) setTimeout(() => void pool.close().catch(() => undefined), RETIRE_AFTER_MS).unref();
    }
  }
}

/** The TLS part of request options, as client-node hands it to its dispatcher. */
function tlsOf(options: RequestOptions): AgentOptions {
  const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = options;
  return Object.fromEntries(
    Object.entries({ ca, cert, key, pfx, passphrase, rejectUnauthorized, servername }).filter(
      ([, value]) => value !== undefined,
    ),
  );
}

/** A digest of everything that decides which connections a dispatcher makes. */
function poolKey(options: DispatcherOptions): string {
  const hash = createHash("sha256");
  hash.update(options.type);
  if ("uri" in options) hash.update(`\0uri=${options.uri}`);
  const sections = [
    "connect" in options ? options.connect : undefined,
    "requestTls" in options ? options.requestTls : undefined,
  ];
  for (const section of sections) {
    hash.update("\0§");
    for (const name of Object.keys(section ?? {}).sort()) {
      const value = (section as Record<string, unknown>)[name];
      if (value === undefined) continue;
      hash.update(`\0${name}=`);
      hash.update(typeof value === "string" || Buffer.isBuffer(value) ? value : JSON.stringify(value));
    }
  }
  return hash.digest("base64");
}

export interface KubeClientOptions {
  /** Milliseconds before a request (not a watch) is abandoned. */
  timeoutMs?: number;
}

/** Typed API clients and watches over one PooledKubeConfig. */
export class KubeClient {
  /** Where the credentials came from, for messages ('kubeconfig /x, context "y"' or "in-cluster ServiceAccount"). */
  readonly source: string;
  readonly config: PooledKubeConfig;
  readonly #configuration: Configuration;

  constructor(config: PooledKubeConfig, source: string, { timeoutMs = 30_000 }: KubeClientOptions = {}) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error(`${source}: no current cluster`);
    this.config = config;
    this.source = source;
    this.#configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: config },
      // Exactly one static middleware: client-node reverses the static list in place on every response
      // (ObservableAPI `middleware.reverse()`), so with two their order would flip from call to call.
      promiseMiddleware: [
        {
          async pre(context: RequestContext) {
            context.setHeaderParam("User-Agent", "dind-k8s");
            // client-node sets no deadline of its own: an apiserver that accepts and never answers would hang
            // intake and the reconciler.
            if (!context.getSignal()) context.setSignal(AbortSignal.timeout(timeoutMs));
            return context;
          },
          async post(response) {
            return response;
          },
        },
      ],
    });
  }

  /** A client-node typed API client (CoreV1Api, CoordinationV1Api, VersionApi …) on this client's pool. */
  api<T extends ApiType>(type: ApiConstructor<T>): T {
    return new type(this.#configuration);
  }

  /** A client-node Watch on this client's pool. */
  watch(): Watch {
    return new Watch(this.config);
  }

  /** Closes idle connections; requests and watches in flight finish. */
  close(): Promise<void> {
    return this.config.closePools();
  }
}
