// Every way a runner set's Pod template can contradict a part dind-k8s must own is refused by name: the key's
// path and why it can't be. And the README's examples pass.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../src/scaler/config/load.ts";
import { configWithSets, TEMPLATE_EXAMPLES, templateExample } from "../../helpers/templates.ts";

function problemsOf(body: string, profile = "privileged"): string[] {
  const set = `- name: team\n  labels: [dind-k8s]\n  maxRunners: 2\n  minIdle: 0\n  runtime: { profile: ${profile} }\n${body}`;
  try {
    parseConfig(configWithSets(set), "test.yaml");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => p.replace(/ \(line \d+\)$/, ""));
  }
  return [];
}

const spec = (yaml: string) => `  template:\n    spec:\n${yaml.replace(/^/gm, "      ")}\n`;
const at = "runnerSets[0].template";

describe("a template that contradicts dind-k8s's own parts", () => {
  it.each([
    // The runner's registration and daemon.
    [
      "its own JIT env",
      spec("containers: [{ name: runner, env: [{ name: ACTIONS_RUNNER_INPUT_JITCONFIG, value: x }] }]"),
      `${at}.spec.containers[0].env[0].name: "ACTIONS_RUNNER_INPUT_JITCONFIG" is set by dind-k8s: the runner's JIT registration comes from the Pod's own Secret`,
    ],
    [
      "a different DOCKER_HOST",
      spec("containers: [{ name: runner, env: [{ name: DOCKER_HOST, value: tcp://x:2375 }] }]"),
      `${at}.spec.containers[0].env[0].name: "DOCKER_HOST" is set by dind-k8s: the runner talks to the Pod's own daemon`,
    ],
    [
      "the runner's image",
      spec("containers: [{ name: runner, image: my/runner }]"),
      `${at}.spec.containers[0].image: set by dind-k8s: set runner.image instead`,
    ],
    [
      "the runner's command",
      spec("containers: [{ name: runner, command: [sh] }]"),
      `${at}.spec.containers[0].command: set by dind-k8s: dind-k8s starts the runner`,
    ],
    [
      "the runner as an init container",
      spec("initContainers: [{ name: runner }]"),
      `${at}.spec.initContainers[0].name: runner is the Pod's main container: put it in containers`,
    ],
    [
      "a mount of our volume in the runner",
      spec("containers: [{ name: runner, volumeMounts: [{ name: work, mountPath: /w }] }]"),
      `${at}.spec.containers[0].volumeMounts[0].name: dind-k8s mounts its own volume "work" here itself`,
    ],
    // The daemon.
    [
      "dind's args",
      spec("initContainers: [{ name: dind, args: [--debug] }]"),
      `${at}.spec.initContainers[0].args: set by dind-k8s: set dind.args instead`,
    ],
    [
      "dind's startup probe",
      spec("initContainers: [{ name: dind, startupProbe: { exec: { command: [x] } } }]"),
      `${at}.spec.initContainers[0].startupProbe: set by dind-k8s: dind-k8s's startup probe holds the runner back`,
    ],
    [
      "dind's security context",
      spec("initContainers: [{ name: dind, securityContext: { privileged: false } }]"),
      `${at}.spec.initContainers[0].securityContext: set by dind-k8s: set by runtime.profile`,
    ],
    [
      "dind's restart policy",
      spec("initContainers: [{ name: dind, restartPolicy: Always }]"),
      `${at}.spec.initContainers[0].restartPolicy: set by dind-k8s: set by kubernetes.sidecars`,
    ],
    [
      "dind-k8s's start script variables",
      spec("containers: [{ name: dind, env: [{ name: DIND_K8S_MTU, value: '9000' }] }]"),
      `${at}.spec.containers[0].env[0].name: "DIND_K8S_MTU" is set by dind-k8s: dind-k8s's start script reads`,
    ],
    // The Pod.
    [
      "restartPolicy other than Never",
      spec("restartPolicy: OnFailure"),
      `${at}.spec.restartPolicy: expected Never (or nothing), got "OnFailure": a runner Pod runs one job`,
    ],
    [
      "schedulingGates",
      spec("schedulingGates: [{ name: mine }]"),
      `${at}.spec.schedulingGates: dind-k8s gates its Pods itself`,
    ],
    ["nodeName", spec("nodeName: node-1"), `${at}.spec.nodeName: a Pod bound to a node skips the scheduler`],
    [
      "runtimeClassName",
      spec("runtimeClassName: gvisor"),
      `${at}.spec.runtimeClassName: set runtime.runtimeClassName instead`,
    ],
    [
      "a service account token",
      spec("automountServiceAccountToken: true"),
      `${at}.spec.automountServiceAccountToken: the runner and its jobs never get a Kubernetes API token`,
    ],
    [
      "host networking under the privileged profile",
      spec("hostNetwork: true"),
      `${at}.spec.hostNetwork: not with the privileged profile: a privileged dockerd in the host's namespaces`,
    ],
    ["the host's PIDs", spec("hostPID: true"), `${at}.spec.hostPID: not with the privileged profile`],
    [
      "a volume named like ours",
      spec("volumes: [{ name: dind-sock, emptyDir: {} }]"),
      `${at}.spec.volumes[0].name: a volume name of dind-k8s's own (work, externals, dind-sock`,
    ],
    [
      "a container named like our init container",
      spec("initContainers: [{ name: init-externals, image: x }]"),
      `${at}.spec.initContainers[0].name: the name of dind-k8s's own init container`,
    ],
    [
      "a container without a name",
      spec("containers: [{ image: x }]"),
      `${at}.spec.containers[0].name: required`,
    ],
    [
      "containers that aren't a list",
      spec("containers: { runner: {} }"),
      `${at}.spec.containers: expected a list of mappings, each with a name`,
    ],
    [
      "our labels",
      "  template: { metadata: { labels: { app.kubernetes.io/managed-by: me } } }\n",
      `${at}.metadata.labels["app.kubernetes.io/managed-by"]: a key of dind-k8s's own`,
    ],
    [
      "our annotations",
      "  template: { metadata: { annotations: { dind-k8s.io/spec-hash: x } } }\n",
      `${at}.metadata.annotations["dind-k8s.io/spec-hash"]: a key of dind-k8s's own`,
    ],
    [
      "a name for the Pod",
      "  template: { metadata: { name: mine } }\n",
      `${at}.metadata.name: unknown key (allowed here: labels, annotations)`,
    ],
    ["a spec that isn't a mapping", "  template: { spec: [] }\n", `${at}.spec: expected a mapping`],
  ])("%s", (_, body, expected) => {
    const problems = problemsOf(body);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  it.each([
    [
      "sysbox",
      spec("hostUsers: true"),
      `${at}.spec.hostUsers: the sysbox profile runs the Pod in a user namespace`,
    ],
    ["rootless", spec("hostIPC: true"), `${at}.spec.hostIPC: not with the rootless profile`],
    [
      "rootless",
      spec("securityContext: { fsGroup: 1 }"),
      `${at}.spec.securityContext.fsGroup: set by the rootless profile`,
    ],
  ])("under the %s profile: %s", (profile, body, expected) => {
    expect(problemsOf(body, profile)).toEqual([expect.stringContaining(expected)]);
  });

  it.each([
    ["host networking under kata (the daemon is inside a VM)", "kata", spec("hostNetwork: true")],
    ["restartPolicy Never, said again", "privileged", spec("restartPolicy: Never")],
    ["a service account token refused again", "privileged", spec("automountServiceAccountToken: false")],
    [
      "env, mounts and fields of runner and dind that aren't ours",
      "privileged",
      spec(
        "containers: [{ name: runner, env: [{ name: A, value: b }], securityContext: { runAsNonRoot: true } }]\n" +
          "initContainers: [{ name: dind, env: [{ name: HTTP_PROXY, value: x }], resources: { limits: { cpu: '2' } } }]",
      ),
    ],
    [
      "our volumes mounted by the team's own containers",
      "privileged",
      spec("containers: [{ name: shipper, image: x, volumeMounts: [{ name: work, mountPath: /w }] }]"),
    ],
  ])("accepted: %s", (_, profile, body) => {
    expect(problemsOf(body, profile)).toEqual([]);
  });

  it("lists every contradiction at once", () => {
    const problems = problemsOf(spec("restartPolicy: Always\nschedulingGates: []\nhostNetwork: true"));
    expect(problems.map((p) => p.split(":")[0])).toEqual([
      `${at}.spec.restartPolicy`,
      `${at}.spec.schedulingGates`,
      `${at}.spec.hostNetwork`,
    ]);
  });

  it.each(TEMPLATE_EXAMPLES)("the README's example %s is accepted", (name) => {
    expect(() => parseConfig(configWithSets(templateExample(name)), `${name}.yaml`)).not.toThrow();
  });
});
