// Exactly what the scaler does in its runner namespace. The chart's Role is rendered from the same
// list (charts/dind-k8s templates), and the integration tests run the scaler under a ServiceAccount
// holding only these rules, so a missing or extra permission shows up as a failing test.
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** The Lease the replicas elect the reconciler with. */
export const SCALER_LEASE_NAME = "dind-k8s-scaler";

export const SCALER_ROLE_RULES: readonly PolicyRule[] = [
  // Runner Pods are the durable record: created at intake, watched by the informer, gates released with
  // a patch, deleted when done.
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "create", "patch", "delete"] },
  // One JIT config Secret per runner, owned by its Pod.
  { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "delete"] },
  // The Docker cache pool of runner sets with `cache`: claims created and recycled by the scaler, leased to
  // one Pod at a time with annotations (patch with a resourceVersion precondition), read with a LIST per pass.
  {
    apiGroups: [""],
    resources: ["persistentvolumeclaims"],
    verbs: ["list", "create", "patch", "delete"],
  },
  // Warnings on Pods replaced after being stuck Pending.
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  // Leader election of the reconciler. create can't be limited to a name; get/update can.
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    resourceNames: [SCALER_LEASE_NAME],
    verbs: ["get", "update"],
  },
];
