import { homedir } from "node:os";
import { join } from "node:path";

/** Pinned versions of the parts the integration tests run. Bump here; the cache is keyed by these. */
/** kube-apiserver, kube-scheduler and kube-controller-manager are built from this one `k8s.io/kubernetes` release. */
export const KUBERNETES_VERSION = "v1.37.2";
export const HELM_VERSION = "v3.22.0";
/** nektos/act, the runner implementation the action's end-to-end test runs it under. */
export const ACT_VERSION = "v0.2.89";
/** sigs.k8s.io/kwok: fake Nodes and kubelets for the real scheduler and controllers. */
export const KWOK_VERSION = "v0.8.0";

/** Debian packages that provide the remaining parts. */
export const APT_PACKAGES = ["etcd-server", "docker.io", "busybox-static", "openssl", "tinyproxy"] as const;

/** Where Go-built binaries are cached across runs (override with DIND_K8S_CACHE). */
export function cacheDir(): string {
  return process.env.DIND_K8S_CACHE ?? join(homedir(), ".cache", "dind-k8s");
}
