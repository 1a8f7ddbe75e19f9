// Least privilege, proven on the real apiserver with RBAC on: the chart's ServiceAccount, Role and RoleBinding (as
// `helm template` renders them) are created, a token of that ServiceAccount comes from the TokenRequest API, and the
// scaler runs a whole job with it (Lease election included). Then a table of requests outside what it needs, made
// with the same token, must each be refused with 403.
import { request } from "node:https";
import {
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SCALER_LEASE_NAME, SCALER_ROLE_RULES } from "../../src/scaler/kube/rbac.ts";
import type { RunningScaler } from "../../src/scaler/service.ts";
import { KWOK_TOLERATION } from "../env/kwok.ts";
import { chartConfig, installChart } from "../helpers/chart.ts";
import { eventually as poll } from "../helpers/eventually.ts";
import { type GitHubStandIn, startGitHubStandIn } from "../helpers/github-standin.ts";
import { adminKubeConfig, kubeConfigFor, restrictedKubeConfig } from "../helpers/kube.ts";
import { endRunner, podInPhase } from "../helpers/kwok.ts";
import { standInTokenClient, startTestScaler, WEBHOOK_SECRET } from "../helpers/scaler.ts";
import { workflowJobPayload } from "../helpers/webhooks.ts";

const eventually = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000) =>
  poll(what, probe, { timeoutMs });

const env = inject("testenv");
const ORG = "my-org"; // github.org of test/fixtures/values/minimal.yaml
const PAT = "ghp_chart_rbac_standin";

let releaseNamespace: string;
let runnerNamespace: string;
let token: string;
let scalerKc: KubeConfig;
let github: GitHubStandIn;
let scaler: RunningScaler;
const admin = adminKubeConfig(env);
const core = admin.makeApiClient(CoreV1Api);

beforeAll(async () => {
  // Everything the chart renders, as helm would install it (the runner namespace with PSA privileged, the runner
  // ServiceAccount, the scaler's ServiceAccount, Role and RoleBinding …), and the token the scaler Pod would get.
  const installed = await installChart(env, {
    prefix: "chart-rbac",
    // Its Pods go to kwok's Nodes: the real scheduler binds them, kwok runs them.
    values: {
      runnerSets: [
        { name: "dind-k8s", labels: ["dind-k8s"], maxRunners: 2, minIdle: 0, tolerations: [KWOK_TOLERATION] },
      ],
    },
  });
  ({ releaseNamespace, runnerNamespace, token } = installed);
  scalerKc = kubeConfigFor(env, {
    name: `system:serviceaccount:${releaseNamespace}:${installed.serviceAccount}`,
    token,
  });
  const config = chartConfig(installed.objects);

  github = await startGitHubStandIn({ target: { kind: "org", org: ORG }, token: PAT });
  const client = standInTokenClient(github, { org: ORG, token: PAT });
  scaler = await startTestScaler(env, {
    namespace: runnerNamespace,
    config,
    kubeConfig: scalerKc,
    github: client,
    // As `dind-k8s serve` runs it: the reconciler only while holding the Lease.
    reconcile: {
      leaderElection: {
        identity: "chart-rbac-test",
        leaseDurationMs: 2_000,
        retryPeriodMs: 200,
        renewDeadlineMs: 1_500,
      },
    },
    timing: { resyncMs: 150, debounceMs: 10, idleGraceMs: 400, orphanSweepMs: 300, backoffMs: 200 },
  });
  github.setHook({ url: `${scaler.url}/webhook`, secret: WEBHOOK_SECRET });
});

afterAll(async () => {
  await scaler?.stop();
  await github?.close();
});

const gated = (pod: V1Pod) => (pod.spec?.schedulingGates ?? []).length > 0;

async function send(action: "queued" | "in_progress" | "completed", jobId: number, runnerName?: string) {
  const payload = workflowJobPayload({
    action,
    jobId,
    labels: ["self-hosted", "dind-k8s"],
    runnerName: runnerName ?? null,
    repository: `${ORG}/app`,
  });
  return (await github.deliver("workflow_job", payload)).statusCode;
}

describe("the scaler as the chart's ServiceAccount", () => {
  it("runs a job end to end: Pod, JIT Secret, release, cleanup, and holds its Lease", async () => {
    expect(await send("queued", 9101)).toBe(201);
    const name = "dind-k8s-9101-1";
    const released = await eventually("the gate to be released", async () => {
      const pod = await core.readNamespacedPod({ name, namespace: runnerNamespace });
      return gated(pod) ? undefined : pod;
    });
    expect(released.spec?.serviceAccountName).toBe("ci-dind-k8s-runner");
    const secret = await core.readNamespacedSecret({ name, namespace: runnerNamespace });
    expect(secret.metadata?.ownerReferences?.[0]?.uid).toBe(released.metadata?.uid);

    const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({
      name: SCALER_LEASE_NAME,
      namespace: runnerNamespace,
    });
    expect(lease.spec?.holderIdentity).toBe("chart-rbac-test");

    // The real scheduler and kwok run it; GitHub plays its part.
    await podInPhase(admin, runnerNamespace, name, "Running");
    const job = github.addQueuedJob({ labels: ["self-hosted", "dind-k8s"] });
    github.startJob(job.id, name);
    expect(await send("in_progress", 9101, name)).toBe(200);
    github.completeJob(job.id);
    expect(await send("completed", 9101, name)).toBe(200);
    await endRunner(admin, runnerNamespace, name);

    await eventually("the Pod and its Secret to be gone", async () => {
      const pods = await core.listNamespacedPod({ namespace: runnerNamespace });
      const secrets = await core.listNamespacedSecret({ namespace: runnerNamespace });
      return pods.items.every((pod) => gated(pod)) && secrets.items.length === 0;
    });
    expect(github.runners()).toEqual([]);
    expect(github.violations).toEqual([]);
  });

  it("is allowed exactly SCALER_ROLE_RULES in the runner namespace (SelfSubjectRulesReview)", async () => {
    const rulesOf = async (kc: KubeConfig) => {
      const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectRulesReview({
        body: { spec: { namespace: runnerNamespace } },
      });
      return (review.status?.resourceRules ?? []).map((rule) =>
        JSON.stringify(rule, Object.keys(rule).sort()),
      );
    };
    // What every ServiceAccount gets from the cluster's bootstrap policy (reviewing its own access; reading
    // ClusterTrustBundles since 1.37) is not the Role: a ServiceAccount bound to nothing shows it.
    const everyone = new Set(
      await rulesOf(await restrictedKubeConfig(env, runnerNamespace, "bound-to-nothing", [])),
    );
    const own = (await rulesOf(scalerKc)).filter((rule) => !everyone.has(rule));
    expect(everyone.size).toBeGreaterThan(0);
    expect(own.sort()).toEqual(
      SCALER_ROLE_RULES.map((rule) => JSON.stringify(rule, Object.keys(rule).sort())).sort(),
    );
  });
});

function requestAs(method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${env.kube.server}${path}`,
      {
        method,
        ca: env.kube.caPem,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json",
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe("denied with the same token", () => {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "x" },
    spec: { containers: [{ name: "x", image: "x" }] },
  };
  const role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "x" },
    rules: [],
  };
  const binding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "x" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "admin" },
    subjects: [{ kind: "User", name: "x" }],
  };
  // [what, method, path (R = runner namespace, S = the scaler's own namespace), body]
  const table: [string, string, string, unknown?][] = [
    ["pods in its own namespace", "GET", "/api/v1/namespaces/S/pods"],
    ["pods in another namespace", "GET", "/api/v1/namespaces/default/pods"],
    ["a Pod in another namespace", "POST", "/api/v1/namespaces/default/pods", pod],
    ["pods of every namespace", "GET", "/api/v1/pods"],
    ["nodes", "GET", "/api/v1/nodes"],
    ["a node's proxy", "GET", "/api/v1/nodes/test-node-1/proxy/pods"],
    [
      "exec into a runner Pod",
      "POST",
      "/api/v1/namespaces/R/pods/dind-k8s-9101-1/exec?command=sh&stdout=true",
    ],
    ["attach to a runner Pod", "POST", "/api/v1/namespaces/R/pods/dind-k8s-9101-1/attach?stdout=true"],
    ["a runner Pod's logs", "GET", "/api/v1/namespaces/R/pods/dind-k8s-9101-1/log"],
    ["a runner Pod's status", "PATCH", "/api/v1/namespaces/R/pods/dind-k8s-9101-1/status", { status: {} }],
    ["ephemeral containers", "PATCH", "/api/v1/namespaces/R/pods/dind-k8s-9101-1/ephemeralcontainers", {}],
    ["secrets of every namespace", "GET", "/api/v1/secrets"],
    ["listing secrets, even in the runner namespace", "GET", "/api/v1/namespaces/R/secrets"],
    ["watching secrets in the runner namespace", "GET", "/api/v1/namespaces/R/secrets?watch=true"],
    ["the chart's GitHub credentials", "GET", "/api/v1/namespaces/S/secrets/dind-k8s-github"],
    ["configmaps in the runner namespace", "GET", "/api/v1/namespaces/R/configmaps"],
    ["a ServiceAccount token", "POST", "/api/v1/namespaces/R/serviceaccounts/ci-dind-k8s-runner/token", {}],
    ["a Role", "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/R/roles", role],
    [
      "a RoleBinding to admin",
      "POST",
      "/apis/rbac.authorization.k8s.io/v1/namespaces/R/rolebindings",
      binding,
    ],
    ["its own Role", "GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/R/roles/ci-dind-k8s-scaler"],
    ["ClusterRoles", "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"],
    ["another Lease", "GET", "/apis/coordination.k8s.io/v1/namespaces/R/leases/kube-scheduler"],
    ["deleting its Lease", "DELETE", `/apis/coordination.k8s.io/v1/namespaces/R/leases/${SCALER_LEASE_NAME}`],
    ["leases of every namespace", "GET", "/apis/coordination.k8s.io/v1/leases"],
    [
      "its own Deployment",
      "PATCH",
      "/apis/apps/v1/namespaces/S/deployments/ci-dind-k8s",
      { spec: { replicas: 0 } },
    ],
    ["the runner namespace itself", "DELETE", "/api/v1/namespaces/R"],
    [
      "the NetworkPolicy guarding runners",
      "DELETE",
      "/apis/networking.k8s.io/v1/namespaces/R/networkpolicies/ci-dind-k8s-runners",
    ],
    [
      "the ResourceQuota bounding runner Pods",
      "PATCH",
      "/api/v1/namespaces/R/resourcequotas/ci-dind-k8s-runners",
      { spec: { hard: { "count/pods": "100000" } } },
    ],
    ["namespaces", "GET", "/api/v1/namespaces"],
    ["PersistentVolumes", "GET", "/api/v1/persistentvolumes"],
    ["StorageClasses", "GET", "/apis/storage.k8s.io/v1/storageclasses"],
    ["claims in another namespace", "GET", "/api/v1/namespaces/default/persistentvolumeclaims"],
    ["CRDs", "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"],
  ];

  it.each(table)("%s: 403", async (_what, method, path, body) => {
    const resolved = path
      .replaceAll("/R/", `/${runnerNamespace}/`)
      .replace(/\/R$/, `/${runnerNamespace}`)
      .replaceAll("/S/", `/${releaseNamespace}/`);
    expect(await requestAs(method, resolved, body)).toBe(403);
  });

  it("while the same token may list runner Pods (so the 403s above are RBAC, not a broken token)", async () => {
    expect(await requestAs("GET", `/api/v1/namespaces/${runnerNamespace}/pods`)).toBe(200);
  });
});
