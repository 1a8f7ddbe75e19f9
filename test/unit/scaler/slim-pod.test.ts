import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/scaler/config/load.ts";
import { slimPod } from "../../../src/scaler/kube/slim-pod.ts";
import { viewPod } from "../../../src/scaler/plan/pod-view.ts";
import { buildRunnerPod } from "../../../src/scaler/runner-pod/build-runner-pod.ts";

const config = parseConfig(
  [
    "github: { org: o, auth: { appId: 1, privateKeyFile: /k.pem }, webhookSecretFile: /s }",
    "kubernetes: { namespace: runners }",
    "runnerSets: [{ name: dind-k8s, labels: [dind-k8s], maxRunners: 1, minIdle: 0 }]",
  ].join("\n"),
  "test.yaml",
);

function servedPod() {
  const { pod } = buildRunnerPod(
    config.runnerSets[0]!,
    { kind: "job", jobId: 42, runAttempt: 1 },
    {
      namespace: "runners",
      sidecars: "native",
    },
  );
  pod.metadata = {
    ...pod.metadata,
    uid: "u-1",
    resourceVersion: "7",
    creationTimestamp: new Date("2026-11-22T10:00:00Z"),
    managedFields: [{ manager: "dind-k8s", operation: "Update" }],
  };
  pod.spec!.nodeName = "node-1";
  pod.status = {
    phase: "Running",
    conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: new Date() }],
    containerStatuses: [
      {
        name: "runner",
        image: "ghcr.io/actions/actions-runner",
        imageID: "sha256:x",
        ready: false,
        restartCount: 0,
        state: { terminated: { exitCode: 0, message: "bye" } },
      },
    ],
  };
  return pod;
}

describe("slimPod", () => {
  it("keeps what the reconciler decides on, so its view of the Pod is the same", () => {
    const pod = servedPod();
    const slim = slimPod(pod);
    const { pod: _full, ...fullView } = viewPod(pod);
    const { pod: _slim, ...slimView } = viewPod(slim);
    expect(slimView).toEqual(fullView);
    const own = (map: Record<string, string> = {}) =>
      Object.fromEntries(Object.entries(map).filter(([key]) => key.startsWith("dind-k8s.io/")));
    expect(slim.metadata?.labels).toEqual(own(pod.metadata?.labels));
    expect(Object.keys(slim.metadata?.labels ?? {})).toContain("dind-k8s.io/runner-set");
    expect(slim.metadata?.annotations).toEqual(own(pod.metadata?.annotations));
    expect(slim.spec?.schedulingGates).toEqual(pod.spec?.schedulingGates);
    expect(slim.status?.containerStatuses?.[0]?.state?.terminated?.message).toBe("bye");
  });

  it("drops the bulk: containers, scripts, managedFields, other labels and conditions", () => {
    const pod = servedPod();
    pod.metadata!.labels = { ...pod.metadata?.labels, "team.example.com/owner": "ci" };
    pod.status!.conditions = [
      ...(pod.status?.conditions ?? []),
      { type: "Ready", status: "False", reason: "ContainersNotReady" },
    ];
    const slim = slimPod(pod);
    expect(slim.metadata?.labels?.["team.example.com/owner"]).toBeUndefined();
    expect(slim.metadata?.labels?.["app.kubernetes.io/name"]).toBeUndefined();
    expect(slim.status?.conditions?.map((condition) => condition.type)).toEqual(["PodScheduled"]);
    expect(slim.spec?.containers).toEqual([]);
    expect(slim.spec?.initContainers).toBeUndefined();
    expect(slim.metadata?.managedFields).toBeUndefined();
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(pod).length / 4);
  });

  it("gives every cached Pod the same frozen, empty container list", () => {
    const [a, b] = [servedPod(), servedPod()].map((pod) => slimPod(JSON.parse(JSON.stringify(pod))));
    expect(a!.spec?.containers).toBe(b!.spec?.containers);
    expect(Object.isFrozen(a!.spec?.containers)).toBe(true);
  });
});
