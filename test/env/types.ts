import type { Parts } from "./parts.ts";

/** What the integration test environment hands each test file (vitest `inject("testenv")`). */
export interface TestEnv {
  /** Temp dir of this run: logs of every daemon (`*.log`), kubeconfigs, docker data. Removed at teardown. */
  runDir: string;
  parts: Parts;
  kube: {
    /** https://127.0.0.1:<port> */
    server: string;
    /** PEM of the CA that signed the apiserver's serving certificate. */
    caPem: string;
    /** Bearer token of an admin user (group system:masters). */
    adminToken: string;
    /** A client certificate (PEM) of another admin user, signed by the apiserver's --client-ca-file. */
    adminClientCert: { certPem: string; keyPem: string };
    /** kubeconfig file for the admin user (for kubectl-like tools, helm). */
    adminKubeconfigPath: string;
    /** e.g. "v1.37.2" as the apiserver reports it on /version. */
    version: string;
  };
  docker: {
    /** unix:///…/docker.sock of the run's own dockerd. */
    host: string;
    socketPath: string;
    /** A small image made with `docker import` from static busybox: has /bin/sh and busybox applets. */
    busyboxImage: string;
  };
  /** tinyproxy, an HTTP CONNECT proxy on loopback (kubeconfig `proxy-url`). */
  proxy: {
    /** http://127.0.0.1:<port> */
    url: string;
    /** Its log; proxyTunnels() in test/env/proxy.ts reads the CONNECTs from it. */
    logFile: string;
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    testenv: TestEnv;
  }
}
