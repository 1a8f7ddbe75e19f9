// The runner set's own Pod template merged with dind-k8s's parts: ours wins where it must, the team's wins
// everywhere else, the typed keys sit in between, and the examples of the README come out as the README says.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { DEFAULT_RESOURCES } from "../../../src/scaler/config/defaults.ts";
import { parseConfig, type RunnerSet } from "../../../src/scaler/config/load.ts";
import { ANNOTATIONS, SCHEDULING_GATE } from "../../../src/scaler/model/keys.ts";
import { buildRunnerPod, type RunnerPodOptions } from "../../../src/scaler/runner-pod/build-runner-pod.ts";
import { mergeTemplate } from "../../../src/scaler/runner-pod/template.ts";
import { configWithSets, TEMPLATE_EXAMPLES, templateExample } from "../../helpers/templates.ts";

const job = { kind: "job", jobId: 7, runAttempt: 1 } as const;
const native: RunnerPodOptions = { namespace: "runners", sidecars: "native" };
const legacy: RunnerPodOptions = { namespace: "runners", sidecars: "legacy" };

/** One runner set from YAML lines (a list item's body, indented by 2). */
function setOf(body: string): RunnerSet {
  const text = `- name: team\n  labels: [dind-k8s]\n  maxRunners: 2\n  minIdle: 0\n${body}`;
  return parseConfig(configWithSets(text), "test.yaml").runnerSets[0]!;
}
const podOf = (set: RunnerSet, options = native) => buildRunnerPod(set, job, options).pod;
const all = (pod: V1Pod) => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
const container = (pod: V1Pod, name: string): V1Container => {
  const found = all(pod).find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
};
const envNames = (c: V1Container) => (c.env ?? []).map((e) => e.name);
const mountNames = (c: V1Container) => (c.volumeMounts ?? []).map((m) => `${m.name}:${m.mountPath}`);
const names = (list: V1Container[] | undefined) => (list ?? []).map((c) => c.name);

const TEAM = `  template:
    metadata:
      labels: { team: platform, cost-center: ci }
      annotations: { example.com/owner: platform }
    spec:
      enableServiceLinks: true
      terminationGracePeriodSeconds: 300
      dnsConfig: { options: [{ name: ndots, value: "2" }] }
      hostAliases: [{ ip: 10.0.0.1, hostnames: [registry.corp] }]
      securityContext: { seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: log-shipper
          image: fluent-bit:3
          volumeMounts: [{ name: work, mountPath: /work, readOnly: true }]
        - name: runner
          env: [{ name: TEAM_ENV, value: "1" }]
          envFrom: [{ configMapRef: { name: team-env } }]
          securityContext: { allowPrivilegeEscalation: false }
          readinessProbe: { exec: { command: [/bin/true] } }
          volumeMounts: [{ name: tools, mountPath: /opt/tools }]
      initContainers:
        - name: fetch-tools
          image: busybox
          volumeMounts: [{ name: tools, mountPath: /tools }]
        - name: dind
          env: [{ name: HTTP_PROXY, value: http://proxy:3128 }]
          volumeMounts: [{ name: tools, mountPath: /opt/tools }]
      volumes:
        - name: tools
          emptyDir: {}
`;

describe("a template: dind-k8s completes runner and dind and owns what it must", () => {
  const team = setOf(TEAM);
  const plain = podOf(setOf(""));
  const pod = podOf(team);
  const runner = container(pod, "runner");
  const dind = container(pod, "dind");
  const plainRunner = container(plain, "runner");
  const plainDind = container(plain, "dind");

  it.each([
    ["runner image", runner.image, plainRunner.image],
    ["runner command", runner.command, plainRunner.command],
    ["dind image", dind.image, plainDind.image],
    ["dind command", dind.command, plainDind.command],
    ["dind args", dind.args, plainDind.args],
    ["dind startup probe", dind.startupProbe, plainDind.startupProbe],
    ["dind restart policy (native sidecar)", dind.restartPolicy, "Always"],
    ["dind security context (the profile's)", dind.securityContext, { privileged: true }],
    ["the Pod's restart policy", pod.spec?.restartPolicy, "Never"],
    ["the scheduling gate", pod.spec?.schedulingGates, [{ name: SCHEDULING_GATE }]],
    ["no service account token", pod.spec?.automountServiceAccountToken, false],
  ])("%s is dind-k8s's", (_, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it("the runner gets its JIT config and DOCKER_HOST after the team's env, and our mounts after theirs", () => {
    expect(envNames(runner)).toEqual(["TEAM_ENV", "ACTIONS_RUNNER_INPUT_JITCONFIG", "DOCKER_HOST"]);
    expect(mountNames(runner)).toEqual([
      "tools:/opt/tools",
      "work:/home/runner/_work",
      "externals:/home/runner/externals",
      "dind-sock:/var/run",
    ]);
    // _work, externals and the socket at the same paths in both: docker run -v $GITHUB_WORKSPACE works.
    expect(mountNames(dind)).toEqual([
      "tools:/opt/tools",
      "work:/home/runner/_work",
      "externals:/home/runner/externals",
      "dind-sock:/var/run",
      "dind-storage:/var/lib/docker",
    ]);
    expect(envNames(dind)).toEqual(["HTTP_PROXY", "DIND_K8S_MTU"]);
  });

  it("the team's other fields of runner stay", () => {
    expect(runner.envFrom).toEqual([{ configMapRef: { name: "team-env" } }]);
    // The team's fields over dind-k8s's defaults (runner-pod/security.ts), field by field.
    expect(runner.securityContext).toMatchObject({ allowPrivilegeEscalation: false, runAsNonRoot: true });
    expect(runner.readinessProbe).toEqual({ exec: { command: ["/bin/true"] } });
  });

  it("the team's containers, init containers and volumes are kept as written, in their order", () => {
    expect(names(pod.spec?.containers)).toEqual(["log-shipper", "runner"]);
    expect(container(pod, "log-shipper")).toEqual({
      name: "log-shipper",
      image: "fluent-bit:3",
      volumeMounts: [{ name: "work", mountPath: "/work", readOnly: true }],
    });
    // init-externals first; the team's init container before dind because the template lists it there.
    expect(names(pod.spec?.initContainers)).toEqual(["init-externals", "fetch-tools", "dind"]);
    expect(pod.spec?.volumes?.map((v) => v.name)).toEqual([
      "tools",
      "work",
      "externals",
      "dind-sock",
      "dind-storage",
    ]);
  });

  it("the team's Pod fields stay, enableServiceLinks (only our default) included", () => {
    expect(pod.spec).toMatchObject({
      enableServiceLinks: true,
      terminationGracePeriodSeconds: 300,
      dnsConfig: { options: [{ name: "ndots", value: "2" }] },
      hostAliases: [{ ip: "10.0.0.1", hostnames: ["registry.corp"] }],
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
    });
    expect(pod.metadata?.labels).toMatchObject({ team: "platform", "cost-center": "ci" });
    expect(pod.metadata?.annotations).toMatchObject({ "example.com/owner": "platform" });
  });

  it("without a dind in the template, the daemon starts right after init-externals", () => {
    const pod = podOf(
      setOf("  template:\n    spec:\n      initContainers: [{ name: setup, image: busybox }]\n"),
    );
    expect(names(pod.spec?.initContainers)).toEqual(["init-externals", "dind", "setup"]);
    expect(names(pod.spec?.containers)).toEqual(["runner"]);
  });

  it("legacy sidecars: the template's dind, listed as an init container, runs as a container", () => {
    const pod = podOf(team, legacy);
    expect(names(pod.spec?.initContainers)).toEqual(["init-externals", "fetch-tools"]);
    expect(names(pod.spec?.containers)).toEqual(["dind", "log-shipper", "runner"]);
    const dind = container(pod, "dind");
    expect(dind.restartPolicy).toBeUndefined();
    expect(envNames(dind)).toEqual(["HTTP_PROXY", "DIND_K8S_MTU", "DIND_K8S_STOP_FILE"]);
  });

  it("no template: the Pod is exactly the one the typed keys give", () => {
    const built = podOf(setOf(""));
    expect(mergeTemplate(built, undefined)).toBe(built);
    expect(podOf(setOf("  template: {}\n")).spec).toEqual(built.spec);
  });
});

describe("typed keys over the template: maps merged key by key, lists joined, the rest replaced", () => {
  const both = setOf(`  nodeSelector: { disk: ssd, zone: typed }
  tolerations: [{ key: typed, operator: Exists }]
  affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } }
  podLabels: { team: typed }
  podAnnotations: { note: typed }
  priorityClassName: typed-class
  serviceAccountName: typed-sa
  imagePullSecrets: [typed-pull]
  runner: { resources: { requests: { cpu: "2" } }, imagePullPolicy: Always }
  template:
    metadata: { labels: { team: template, extra: template }, annotations: { note: template } }
    spec:
      nodeSelector: { zone: template, arch: amd64 }
      tolerations: [{ key: template, operator: Exists }]
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } }, podAntiAffinity: {} }
      priorityClassName: template-class
      serviceAccountName: template-sa
      imagePullSecrets: [{ name: template-pull }]
      containers:
        - name: runner
          resources: { requests: { cpu: "1", memory: 1Gi } }
          imagePullPolicy: Never
      initContainers:
        - name: dind
          resources: { limits: { memory: 6Gi } }
          imagePullPolicy: Never
`);
  const pod = podOf(both);

  it.each([
    ["nodeSelector", pod.spec?.nodeSelector, { zone: "typed", arch: "amd64", disk: "ssd" }],
    [
      "tolerations",
      pod.spec?.tolerations,
      [
        { key: "template", operator: "Exists" },
        { key: "typed", operator: "Exists" },
      ],
    ],
    [
      "affinity",
      pod.spec?.affinity,
      {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
        podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] },
      },
    ],
    ["labels", pod.metadata?.labels?.team, "typed"],
    ["a template label no typed key sets", pod.metadata?.labels?.extra, "template"],
    ["annotations", pod.metadata?.annotations?.note, "typed"],
    ["priorityClassName", pod.spec?.priorityClassName, "typed-class"],
    ["serviceAccountName", pod.spec?.serviceAccountName, "typed-sa"],
    ["imagePullSecrets", pod.spec?.imagePullSecrets, [{ name: "template-pull" }, { name: "typed-pull" }]],
    // The typed key replaces the template's field whole (its memory request goes); defaults fill the rest.
    [
      "runner resources",
      container(pod, "runner").resources?.requests,
      { ...DEFAULT_RESOURCES.runner.requests, cpu: "2" },
    ],
    ["runner pull policy", container(pod, "runner").imagePullPolicy, "Always"],
    // No typed key for them: the template's stand.
    ["dind resources", container(pod, "dind").resources?.limits?.memory, "6Gi"],
    ["dind pull policy", container(pod, "dind").imagePullPolicy, "Never"],
  ])("%s", (_, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it("dind-k8s's own labels win over both", () => {
    const hijack = setOf(
      "  podLabels: { dind-k8s.io/runner-set: other }\n  template: { metadata: { labels: { a: b } } }\n",
    );
    expect(podOf(hijack).metadata?.labels?.["dind-k8s.io/runner-set"]).toBe("team");
  });
});

describe("the spec hash", () => {
  const hashOf = (pod: V1Pod) => pod.metadata?.annotations?.[ANNOTATIONS.specHash];
  const set = setOf(TEAM);

  it("is the same for every Pod of a set (job or warm), and for the same configuration parsed again", () => {
    const hash = hashOf(podOf(set));
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(hashOf(buildRunnerPod(set, { kind: "job", jobId: 99, runAttempt: 3 }, native).pod)).toBe(hash);
    expect(hashOf(buildRunnerPod(set, { kind: "warm", id: "abc" }, native).pod)).toBe(hash);
    expect(hashOf(podOf(setOf(TEAM)))).toBe(hash);
  });

  it.each([
    ["a template's env", setOf(TEAM.replace('value: "1"', 'value: "2"'))],
    ["a typed key", setOf(`${TEAM}  nodeSelector: { a: b }\n`)],
    ["no template", setOf("")],
  ])("changes with %s", (_, other) => {
    expect(hashOf(podOf(other))).not.toBe(hashOf(podOf(set)));
  });

  it("changes with the sidecar mode and the namespace", () => {
    expect(hashOf(podOf(set, legacy))).not.toBe(hashOf(podOf(set)));
    expect(hashOf(podOf(set, { ...native, namespace: "other" }))).not.toBe(hashOf(podOf(set)));
  });
});

describe("the README's examples", () => {
  const sets = parseConfig(
    configWithSets(TEMPLATE_EXAMPLES.map(templateExample).join("")),
    "examples",
  ).runnerSets;
  const [caBundle, proxy, spread] = sets.map((set) => podOf(set));

  it("a CA bundle: one ConfigMap volume, read by the runner and by dockerd for the company registry", () => {
    expect(caBundle!.spec?.volumes?.[0]).toMatchObject({
      name: "corp-ca",
      configMap: { name: "corp-ca-bundle" },
    });
    expect(mountNames(container(caBundle!, "runner"))).toContain("corp-ca:/etc/corp-ca");
    expect(mountNames(container(caBundle!, "dind"))).toContain(
      "corp-ca:/etc/docker/certs.d/registry.corp.example",
    );
    expect(container(caBundle!, "runner").env?.[0]).toEqual({
      name: "NODE_EXTRA_CA_CERTS",
      value: "/etc/corp-ca/ca.crt",
    });
  });

  it("a proxy: runner and dockerd both take their environment from the ConfigMap", () => {
    for (const name of ["runner", "dind"]) {
      expect(container(proxy!, name).envFrom).toEqual([{ configMapRef: { name: "corp-proxy" } }]);
    }
  });

  it("topology spread: the constraint selects the set's own Pods by the label dind-k8s puts on them", () => {
    const [constraint] = spread!.spec?.topologySpreadConstraints ?? [];
    expect(constraint?.topologyKey).toBe("topology.kubernetes.io/zone");
    const selector = constraint?.labelSelector?.matchLabels ?? {};
    for (const [key, value] of Object.entries(selector)) expect(spread!.metadata?.labels?.[key]).toBe(value);
  });
});
