import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  DEFAULT_DIND_IMAGE,
  DEFAULT_DIND_ROOTLESS_IMAGE,
  DEFAULT_RUNNER_DOCKER_GID,
  DEFAULT_RUNNER_IMAGE,
  DEFAULT_RUNNER_UID,
} from "../../../src/scaler/config/defaults.ts";
import { ConfigError, loadConfig, parseConfig } from "../../../src/scaler/config/load.ts";
import { describeValue } from "../../../src/scaler/config/primitives.ts";
import { collectProblems, unknownKeyMessage } from "../../../src/scaler/config/problems.ts";
import { maxQueuedOf } from "../../../src/scaler/config/schema.ts";

const readUtf8 = (path: string) => readFile(path, "utf8");

const fixtures = join(import.meta.dirname, "../../fixtures/config");
const minimalText = readFileSync(join(fixtures, "minimal.yaml"), "utf8");

/** The problems of a config, as the user sees them (without the trailing line numbers unless asked). */
const LISTENER_WHY =
  "dind-k8s puts dockerd on the Pod's unix socket only; a TCP listener would give whoever reaches the Pod the daemon (with a privileged dind, the node)";

function problemsOf(text: string, { withLines = false } = {}): string[] {
  try {
    parseConfig(text, "test.yaml");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return withLines ? error.problems : error.problems.map((p) => p.replace(/ \(line \d+\)$/, ""));
  }
  throw new Error("expected the configuration to be refused");
}

/** The minimal file with one runner set key replaced (YAML flow text). */
function withSet(extra: string): string {
  return minimalText.replace("    minIdle: 0\n", `    minIdle: 0\n${extra}`);
}

describe("the minimal configuration", () => {
  it("validates and gets the documented defaults", () => {
    const config = parseConfig(minimalText, "minimal.yaml");
    expect(config.github).toEqual({
      url: "https://github.com",
      org: "my-org",
      auth: { appId: 1, privateKeyFile: "/secrets/app.pem" },
      webhookSecretFile: "/secrets/webhook-secret",
      intake: "webhook",
      pollInterval: 5,
    });
    expect(config.kubernetes).toEqual({ namespace: "dind-runners", sidecars: "auto" });
    const [set] = config.runnerSets;
    expect(set).toMatchObject({ name: "dind-k8s", labels: ["dind-k8s"], maxRunners: 10, minIdle: 0 });
    expect(set?.runner).toEqual({
      image: DEFAULT_RUNNER_IMAGE,
      dockerGid: DEFAULT_RUNNER_DOCKER_GID,
      uid: DEFAULT_RUNNER_UID,
      sudo: false,
    });
    expect(set?.dind).toEqual({ args: [], mtu: "auto", registryMirrors: [] });
    expect(set?.runtime).toEqual({ profile: "privileged" });
    expect(set?.storage).toBeUndefined();
  });

  it("takes jobs from the delivery log with intake poll or both, every pollInterval seconds", () => {
    const github = (extra: string) => minimalText.replace("github:\n", `github:\n${extra}`);
    expect(parseConfig(github("  intake: poll\n  pollInterval: 2\n"), "poll.yaml").github).toMatchObject({
      intake: "poll",
      pollInterval: 2,
    });
    // The poll reads the delivery log with the App's or token's credentials: no webhook secret needed with poll alone.
    const noSecret = (intake: string) =>
      github(`  intake: ${intake}\n`).replace("  webhookSecretFile: /secrets/webhook-secret\n", "");
    expect(parseConfig(noSecret("poll"), "poll.yaml").github.webhookSecretFile).toBeUndefined();
    expect(problemsOf(noSecret("both"))).toEqual([
      "github: required: set webhookSecretFile or webhookSecretEnv (the webhook secret; with intake poll it may be left out)",
    ]);
    expect(problemsOf(github("  intake: pull\n  pollInterval: 0\n"))).toEqual([
      'github.intake: expected one of "webhook", "poll", "both", got "pull"',
      "github.pollInterval: expected a whole number from 1 to 300, got 0",
    ]);
  });

  it("bounds a set's backlog at 20 × maxRunners unless maxQueued says otherwise", () => {
    const [set] = parseConfig(minimalText, "minimal.yaml").runnerSets;
    expect(set?.maxQueued).toBeUndefined();
    expect(maxQueuedOf(set!)).toBe(200);
    const [own] = parseConfig(withSet("    maxQueued: 7\n"), "own.yaml").runnerSets;
    expect(maxQueuedOf(own!)).toBe(7);
  });

  it("bounds the backlog at the set's peak: a window's higher maxRunners raises it, a lower one doesn't", () => {
    const window = (maxRunners: number) =>
      `      - cron: "0 8 * * 1-5"\n        duration: 10h\n        timeZone: UTC\n        minIdle: 1\n        maxRunners: ${maxRunners}\n`;
    const [day] = parseConfig(withSet(`    schedules:\n${window(50)}${window(3)}`), "day.yaml").runnerSets;
    expect(maxQueuedOf(day!)).toBe(20 * 50);
    const [night] = parseConfig(withSet(`    schedules:\n${window(3)}`), "night.yaml").runnerSets;
    expect(maxQueuedOf(night!)).toBe(200);
  });

  it("pins the runner image and the docker gid of the actions-runner image", () => {
    expect(DEFAULT_RUNNER_IMAGE).toMatch(/^ghcr\.io\/actions\/actions-runner:\d+\.\d+\.\d+$/);
    // The rootless dind is the same Docker release as the rootful one.
    expect(DEFAULT_DIND_ROOTLESS_IMAGE).toBe(`${DEFAULT_DIND_IMAGE}-rootless`);
    expect(DEFAULT_DIND_IMAGE).toMatch(/^docker:\d+\.\d+\.\d+-dind$/);
    expect(DEFAULT_RUNNER_DOCKER_GID).toBe(123);
  });

  it("loadConfig reads the file", async () => {
    const config = await loadConfig(join(fixtures, "minimal.yaml"), readUtf8);
    expect(config.runnerSets).toHaveLength(1);
  });

  it("loadConfig names the file it can't read", async () => {
    await expect(loadConfig("/nonexistent/dind-k8s.yaml", readUtf8)).rejects.toThrow(
      /^\/nonexistent\/dind-k8s\.yaml: 1 problem in the configuration:\n {2}can't read the configuration file: ENOENT/,
    );
  });
});

describe("accepted variants", () => {
  it.each([
    ["a repository instead of an org", (t: string) => t.replace("org: my-org", "repo: my-org/my-repo")],
    [
      "a personal access token instead of an App",
      (t: string) =>
        t.replace(
          "{ appId: 1, privateKeyFile: /secrets/app.pem }",
          "{ tokenFile: /secrets/pat }\n  hookId: 12",
        ),
    ],
    [
      "secrets from the environment",
      (t: string) =>
        t
          .replace("privateKeyFile: /secrets/app.pem", "privateKeyEnv: APP_KEY")
          .replace("webhookSecretFile: /secrets/webhook-secret", "webhookSecretEnv: WEBHOOK_SECRET"),
    ],
    ["GHES", (t: string) => t.replace("url: https://github.com", "url: https://github.example.corp/")],
    ["a runner group", (t: string) => t.replace("org: my-org", "org: my-org\n  runnerGroup: ci")],
    [
      "an API URL over https",
      (t: string) =>
        t.replace("url: https://github.com", "url: https://github.com\n  apiUrl: https://gh-proxy.corp/api"),
    ],
    [
      "plain http to a loopback test server",
      (t: string) =>
        t.replace(
          "url: https://github.com",
          "url: http://127.0.0.1:3000\n  apiUrl: http://[::1]:3001/api/v3",
        ),
    ],
    ["an App installation id", (t: string) => t.replace("appId: 1,", "appId: 1, installationId: 42,")],
  ])("%s", (_name, edit) => {
    expect(() => parseConfig(edit(minimalText), "variant.yaml")).not.toThrow();
  });

  it("the profiles fixture (every option) validates", () => {
    const text = readFileSync(join(fixtures, "profiles.yaml"), "utf8");
    const config = parseConfig(text, "profiles.yaml");
    expect(config.runnerSets.map((s) => s.name)).toEqual([
      "default",
      "everything",
      "memory",
      "ephemeral",
      "loop",
      "kata",
      "sysbox",
      "rootless",
    ]);
    const everything = config.runnerSets[1]!;
    // Quantities written as YAML numbers or strings come out as strings.
    expect(everything.runner.resources).toEqual({
      requests: { cpu: "1", memory: "2Gi" },
      limits: { memory: "4Gi" },
    });
    expect(everything.dind.mtu).toBe(1400);
  });
});

describe("refused configurations: the exact messages", () => {
  it.each([
    [
      "maxRunners: -1",
      withSet("").replace("maxRunners: 10", "maxRunners: -1"),
      ["runnerSets[0].maxRunners: expected a whole number ≥ 0, got -1"],
    ],
    [
      "a fractional minIdle",
      withSet("").replace("minIdle: 0", "minIdle: 0.5"),
      ["runnerSets[0].minIdle: expected a whole number ≥ 0, got 0.5"],
    ],
    [
      "maxRunners as text",
      withSet("").replace("maxRunners: 10", "maxRunners: ten"),
      ['runnerSets[0].maxRunners: expected a whole number ≥ 0, got "ten"'],
    ],
    [
      "a GHES URL over plain http",
      minimalText.replace("url: https://github.com", "url: http://ghes.corp"),
      [
        "github.url: http://ghes.corp would send the GitHub credentials in clear text: use https:// (plain http:// only to a loopback address such as 127.0.0.1, for a local test server)",
      ],
    ],
    [
      "an API URL over plain http to another host",
      minimalText.replace(
        "url: https://github.com",
        "url: https://github.com\n  apiUrl: http://10.0.0.7:8080",
      ),
      [
        "github.apiUrl: http://10.0.0.7:8080 would send the GitHub credentials in clear text: use https:// (plain http:// only to a loopback address such as 127.0.0.1, for a local test server)",
      ],
    ],
    [
      "a negative maxQueued",
      withSet("    maxQueued: -5\n"),
      ["runnerSets[0].maxQueued: expected a whole number ≥ 0, got -5"],
    ],
    [
      "maxQueued as text",
      withSet("    maxQueued: lots\n"),
      ['runnerSets[0].maxQueued: expected a whole number ≥ 0, got "lots"'],
    ],
    [
      "minIdle above maxRunners",
      withSet("").replace("minIdle: 0", "minIdle: 11"),
      ["runnerSets[0].minIdle: expected at most maxRunners (10), got 11"],
    ],
    [
      "a missing maxRunners",
      withSet("").replace("    maxRunners: 10\n", ""),
      ["runnerSets[0].maxRunners: required: expected a whole number ≥ 0"],
    ],
    [
      "labels as a string",
      withSet("").replace("labels: [dind-k8s]", "labels: dind-k8s"),
      ['runnerSets[0].labels: expected a list of runner labels, got "dind-k8s"'],
    ],
    [
      "no labels",
      withSet("").replace("labels: [dind-k8s]", "labels: []"),
      ["runnerSets[0].labels: expected at least one label"],
    ],
    [
      "an upper-case set name",
      withSet("").replace("name: dind-k8s", "name: Dind"),
      [
        "runnerSets[0].name: expected a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit), got \"Dind\"",
      ],
    ],
    [
      "a set name too long for Pod names",
      withSet("").replace("name: dind-k8s", `name: ${"a".repeat(41)}`),
      [
        `runnerSets[0].name: expected a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit), at most 40 characters, got "${"a".repeat(41)}"`,
      ],
    ],
    [
      "a typo in a key",
      withSet("").replace("maxRunners: 10", "maxRunners: 10\n    maxRunner: 3"),
      [
        'runnerSets[0].maxRunner: unknown key; did you mean "maxRunners"? (allowed here: name, labels, maxRunners, minIdle, maxQueued, schedules, scheduleLeadTime, fairness, repositoryWeights, maxRunnersPerRepository, runnerGroup, runner, dind, storage, cache, runtime, nodeSelector, tolerations, affinity, podLabels, podAnnotations, priorityClassName, serviceAccountName, imagePullSecrets, template)',
      ],
    ],
    [
      "an inline webhook secret",
      minimalText.replace("webhookSecretFile: /secrets/webhook-secret", "webhookSecret: hunter2"),
      [
        "github: required: set webhookSecretFile or webhookSecretEnv (the webhook secret; with intake poll it may be left out)",
        "github.webhookSecret: unknown key; secrets are never written in the configuration: put it in a file and set webhookSecretFile (or webhookSecretEnv)",
      ],
    ],
    [
      "an inline private key",
      minimalText.replace("privateKeyFile: /secrets/app.pem", "privateKey: abc"),
      [
        "github.auth.privateKey: unknown key; secrets are never written in the configuration: put it in a file and set privateKeyFile (or privateKeyEnv)",
        "github.auth: required: set privateKeyFile or privateKeyEnv (the App's private key)",
      ],
    ],
    [
      "a relative secret path",
      minimalText.replace("/secrets/app.pem", "secrets/app.pem"),
      [
        'github.auth.privateKeyFile: expected an absolute file path such as /secrets/app.pem, got "secrets/app.pem"',
      ],
    ],
    [
      "both org and repo",
      minimalText.replace("org: my-org", "org: my-org\n  repo: a/b"),
      ["github: set only one of org, repo (where the runners register)"],
    ],
    [
      "a runner group for repository runners",
      minimalText.replace("org: my-org", "repo: my-org/app\n  runnerGroup: ci"),
      [
        "github.runnerGroup: runner groups exist only for organization runners: remove it, or register with github.org",
      ],
    ],
    [
      "a token without github.hookId",
      minimalText.replace("{ appId: 1, privateKeyFile: /secrets/app.pem }", "{ tokenEnv: GH_TOKEN }"),
      [
        "github.hookId: required with a token (github.auth.tokenFile or tokenEnv): the redelivery sweep lists the failed deliveries of that webhook. Set it to the number at the end of the webhook's settings URL (…/settings/hooks/<id>), or use a GitHub App (github.auth.appId), whose own hook needs none",
      ],
    ],
    [
      "App and token together",
      minimalText.replace("appId: 1,", "appId: 1, tokenFile: /secrets/pat,"),
      ["github.auth: use a GitHub App (appId, privateKeyFile) or a token (tokenFile), not both"],
    ],
    [
      "an unknown storage type",
      withSet("    storage: { type: disk }\n"),
      [
        'runnerSets[0].storage.type: expected one of "emptyDir", "memory", "ephemeralVolume", "loopDisk", got "disk"',
      ],
    ],
    [
      "memory storage without a size",
      withSet("    storage: { type: memory }\n"),
      ["runnerSets[0].storage.sizeLimit: required: expected a Kubernetes quantity such as 500m, 2 or 10Gi"],
    ],
    [
      "emptyDir under kata",
      withSet("    runtime: { profile: kata }\n    storage: { type: emptyDir }\n"),
      [
        'runnerSets[0].storage.type: expected "loopDisk" or "memory" under the kata profile, got "emptyDir" (virtio-fs volumes can\'t be an overlay upper layer)',
      ],
    ],
    [
      "loopDisk under sysbox",
      withSet("    runtime: { profile: sysbox }\n    storage: { type: loopDisk }\n"),
      [
        "runnerSets[0].storage.type: loopDisk needs a privileged dind (it mounts a loop device); the sysbox profile isn't: use emptyDir, memory or ephemeralVolume",
      ],
    ],
    [
      "an unknown runtime profile",
      withSet("    runtime: { profile: gvisor }\n"),
      [
        'runnerSets[0].runtime.profile: expected one of "privileged", "kata", "sysbox", "rootless", got "gvisor"',
      ],
    ],
    [
      "a tiny MTU",
      withSet("    dind: { mtu: 20 }\n"),
      ["runnerSets[0].dind.mtu: expected a whole number from 68 to 65535, got 20"],
    ],
    [
      "MTU as a word",
      withSet("    dind: { mtu: automatic }\n"),
      ['runnerSets[0].dind.mtu: expected "auto" or a whole number from 68 to 65535'],
    ],
    [
      "a TCP host for dockerd",
      withSet("    dind: { args: [--host=tcp://0.0.0.0:2375] }\n"),
      [
        `runnerSets[0].dind.args[0]: expected no -H/--host argument, got "--host=tcp://0.0.0.0:2375": ${LISTENER_WHY}`,
      ],
    ],
    [
      "a bad quantity",
      withSet("    runner: { resources: { limits: { memory: 2GB } } }\n"),
      [
        'runnerSets[0].runner.resources.limits.memory: expected a Kubernetes quantity such as 500m, 2 or 10Gi, got "2GB"',
      ],
    ],
    [
      "a mirror that isn't http(s)",
      withSet("    dind: { registryMirrors: [ftp://mirror] }\n"),
      [
        'runnerSets[0].dind.registryMirrors[0]: expected an http(s) URL such as https://github.com, got "ftp://mirror"',
      ],
    ],
    [
      "overriding DOCKER_HOST",
      withSet("    runner: { env: [{ name: DOCKER_HOST, value: tcp://x:2375 }] }\n"),
      ['runnerSets[0].runner.env[0].name: expected a name dind-k8s doesn\'t set itself, got "DOCKER_HOST"'],
    ],
    [
      "a label key Kubernetes refuses",
      withSet('    podLabels: { "bad key!": x }\n'),
      [
        'runnerSets[0].podLabels["bad key!"]: expected a label key such as team or example.com/team, got "bad key!"',
      ],
    ],
    [
      "a label value Kubernetes refuses",
      withSet('    nodeSelector: { pool: "ci runners" }\n'),
      [
        "runnerSets[0].nodeSelector.pool: expected a label value (up to 63 letters, digits, '-', '_' or '.'), got \"ci runners\"",
      ],
    ],
    [
      "a pod label with an odd key",
      withSet("    podLabels: { team: 3 }\n"),
      ["runnerSets[0].podLabels.team: expected a string, got 3"],
    ],
    [
      "no runner sets",
      `${minimalText.slice(0, minimalText.indexOf("runnerSets:"))}runnerSets: []\n`,
      ["runnerSets: expected at least one runner set"],
    ],
    [
      "a missing github section",
      minimalText.slice(minimalText.indexOf("kubernetes:")),
      ["github: required: expected a mapping"],
    ],
  ])("%s", (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it("two sets with the same name or the same labels", () => {
    const text = `${minimalText}  - name: dind-k8s\n    labels: [DIND-K8S]\n    maxRunners: 1\n    minIdle: 0\n`;
    expect(problemsOf(text)).toEqual([
      'runnerSets[1].name: expected a unique name, got "dind-k8s" again (runnerSets[0] has it)',
      "runnerSets[1].labels: expected a label set no other runner set has, got the labels of runnerSets[0]",
    ]);
  });

  it("lists every problem at once, in file order, with line numbers", () => {
    const text = `github:
  org: my-org
  auth: { appId: 0, privateKeyFile: /secrets/app.pem }
  webhookSecretFile: /secrets/webhook-secret
kubernetes:
  namespace: Dind_Runners
  sidecar: native
runnerSets:
  - name: dind-k8s
    labels: [dind-k8s]
    maxRunners: -1
    minIdle: 0
`;
    expect(problemsOf(text, { withLines: true })).toEqual([
      "github.auth.appId: expected a whole number ≥ 1, got 0 (line 3)",
      "kubernetes.namespace: expected a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit), got \"Dind_Runners\" (line 6)",
      'kubernetes.sidecar: unknown key; did you mean "sidecars"? (allowed here: namespace, sidecars) (line 7)',
      "runnerSets[0].maxRunners: expected a whole number ≥ 0, got -1 (line 11)",
    ]);
  });

  it("the error's message names the file and counts the problems", () => {
    expect(() =>
      parseConfig(withSet("").replace("maxRunners: 10", "maxRunners: -1"), "/etc/dind-k8s/config.yaml"),
    ).toThrow(
      "/etc/dind-k8s/config.yaml: 1 problem in the configuration:\n  runnerSets[0].maxRunners: expected a whole number ≥ 0, got -1 (line 11)",
    );
  });

  it("broken YAML is reported with its position", () => {
    expect(problemsOf("github: {org: x\nkubernetes: [\n", { withLines: true })[0]).toMatch(
      /^line \d+ column \d+: not valid YAML: /,
    );
  });

  it("a duplicate key is an error, not a silent override", () => {
    expect(
      problemsOf(minimalText.replace("maxRunners: 10", "maxRunners: 10\n    maxRunners: 20"))[0],
    ).toMatch(/not valid YAML: Map keys must be unique/);
  });

  it("an empty file says what it should hold", () => {
    expect(problemsOf("# nothing\n")).toEqual([
      "the file is empty: expected a mapping with github, kubernetes and runnerSets",
    ]);
  });
});

describe("refused configurations: generic wordings, odd shapes and the cross-key rules", () => {
  const auth = (value: string) =>
    minimalText.replace("{ appId: 1, privateKeyFile: /secrets/app.pem }", value);
  /** A token config names its webhook (github.hookId), so the case shows only its own problem. */
  const tokenAuth = (value: string) => auth(value).replace("  org: my-org\n", "  org: my-org\n  hookId: 1\n");
  it.each([
    [
      "a toleration key that isn't a string",
      withSet("    tolerations: [{ key: 5 }]\n"),
      ["runnerSets[0].tolerations[0].key: expected a string, got 5"],
    ],
    [
      "tolerationSeconds that isn't a number",
      withSet("    tolerations: [{ tolerationSeconds: soon }]\n"),
      ['runnerSets[0].tolerations[0].tolerationSeconds: expected a number, got "soon"'],
    ],
    [
      "tolerationSeconds that isn't whole",
      withSet("    tolerations: [{ tolerationSeconds: 1.5 }]\n"),
      ["runnerSets[0].tolerations[0].tolerationSeconds: expected a whole number, got 1.5"],
    ],
    [
      "an env entry without a value",
      withSet("    runner: { env: [{ name: A }] }\n"),
      ["runnerSets[0].runner.env[0].value: required: expected a string"],
    ],
    [
      "a storage without a type",
      withSet("    storage: { sizeLimit: 1Gi }\n"),
      [
        'runnerSets[0].storage.type: expected one of "emptyDir", "memory", "ephemeralVolume", "loopDisk", got nothing',
      ],
    ],
    [
      "a storage that is a list",
      withSet("    storage: [1]\n"),
      ["runnerSets[0].storage: expected a mapping, got a list of 1"],
    ],
    [
      "affinity terms that aren't a mapping",
      withSet("    affinity: { nodeAffinity: [1] }\n"),
      ["runnerSets[0].affinity.nodeAffinity: expected a mapping"],
    ],
    [
      "requests that aren't a mapping",
      withSet("    runner: { resources: { requests: [1] } }\n"),
      ["runnerSets[0].runner.resources.requests: expected a mapping, got a list of 1"],
    ],
    [
      "a quantity that is a boolean",
      withSet("    runner: { resources: { requests: { cpu: true } } }\n"),
      [
        "runnerSets[0].runner.resources.requests.cpu: expected a Kubernetes quantity such as 500m, 2 or 10Gi, got true",
      ],
    ],
    [
      "null labels",
      withSet("    podLabels: null\n"),
      ["runnerSets[0].podLabels: expected a mapping of label keys to values, got null"],
    ],
    [
      "null annotations",
      withSet("    podAnnotations: null\n"),
      ["runnerSets[0].podAnnotations: expected a mapping of annotation keys to strings, got null"],
    ],
    [
      "a label key starting with a digit, with a bad value",
      withSet("    podLabels: { 3team: 'a b' }\n"),
      [
        "runnerSets[0].podLabels[\"3team\"]: expected a label value (up to 63 letters, digits, '-', '_' or '.'), got \"a b\"",
      ],
    ],
    ["a top level that is a list", "- 1\n", ["(top level): expected a mapping, got a list of 1"]],
    ["a top level that is a string", "hello\n", ['(top level): expected a mapping, got "hello"']],
    [
      "an empty runnerGroup",
      withSet("    runnerGroup: ''\n"),
      ['runnerSets[0].runnerGroup: expected a string (not empty), got ""'],
    ],
    [
      "a bad priorityClassName",
      withSet("    priorityClassName: Bad_Name\n"),
      [
        "runnerSets[0].priorityClassName: expected a Kubernetes object name (lowercase letters, digits, '-' and '.'), got \"Bad_Name\"",
      ],
    ],
    [
      "a key file path with a space",
      auth("{ appId: 1, privateKeyFile: '/secrets/app key.pem' }"),
      [
        'github.auth.privateKeyFile: expected an absolute file path such as /secrets/app.pem, got "/secrets/app key.pem"',
      ],
    ],
    [
      "a bad tokenEnv",
      tokenAuth("{ tokenEnv: 1BAD }"),
      ['github.auth.tokenEnv: expected an environment variable name such as GITHUB_TOKEN, got "1BAD"'],
    ],
    [
      "an image with a space",
      withSet("    runner: { image: 'a b' }\n"),
      ['runnerSets[0].runner.image: expected a container image reference such as docker:29-dind, got "a b"'],
    ],
    [
      "env that isn't a list",
      withSet("    runner: { env: 5 }\n"),
      ["runnerSets[0].runner.env: expected a list of {name, value}, got 5"],
    ],
    [
      "args that aren't a list",
      withSet("    dind: { args: 5 }\n"),
      ["runnerSets[0].dind.args: expected a list of dockerd arguments, got 5"],
    ],
    [
      "registryMirrors that aren't a list",
      withSet("    dind: { registryMirrors: 5 }\n"),
      ["runnerSets[0].dind.registryMirrors: expected a list of registry mirror URLs, got 5"],
    ],
    [
      "labels that aren't a list",
      minimalText.replace("labels: [dind-k8s]", "labels: 5"),
      ["runnerSets[0].labels: expected a list of runner labels, got 5"],
    ],
    [
      "tolerations that aren't a list",
      withSet("    tolerations: 5\n"),
      ["runnerSets[0].tolerations: expected a list of tolerations, got 5"],
    ],
    [
      "imagePullSecrets that aren't a list",
      withSet("    imagePullSecrets: 5\n"),
      ["runnerSets[0].imagePullSecrets: expected a list of Secret names, got 5"],
    ],
    [
      "runnerSets that aren't a list",
      minimalText.replace(/runnerSets:[\s\S]*/, "runnerSets: 5\n"),
      ["runnerSets: expected a list of runner sets, got 5"],
    ],
    [
      "a bad org",
      minimalText.replace("org: my-org", "org: -bad"),
      ['github.org: expected a GitHub organization name, got "-bad"'],
    ],
    [
      "a bad repo",
      minimalText.replace("org: my-org", "repo: bad"),
      ['github.repo: expected owner/name of a repository, got "bad"'],
    ],
    [
      "no auth",
      minimalText.replace("  auth: { appId: 1, privateKeyFile: /secrets/app.pem }\n", ""),
      ["github.auth: required: expected a mapping"],
    ],
    ["a null auth", auth("~"), ["github.auth: expected a mapping, got null"]],
    [
      "an empty auth",
      auth("{}"),
      [
        "github.auth: required: appId with privateKeyFile (a GitHub App), or tokenFile (a personal access token)",
      ],
    ],
    [
      "an App key without the App id",
      auth("{ privateKeyFile: /a }"),
      ["github.auth.appId: required: the App's id"],
    ],
    [
      "two tokens",
      tokenAuth("{ tokenFile: /a, tokenEnv: B }"),
      ["github.auth: set only one of tokenFile, tokenEnv (the token)"],
    ],
    [
      "App settings and a token",
      auth("{ installationId: 1, privateKeyEnv: K, tokenFile: /t }"),
      ["github.auth: use a GitHub App (installationId, privateKeyEnv) or a token (tokenFile), not both"],
    ],
    [
      "an App id with two tokens",
      auth("{ appId: 1, tokenFile: /t, tokenEnv: T }"),
      ["github.auth: use a GitHub App (appId) or a token (tokenFile, tokenEnv), not both"],
    ],
    [
      "kata on an explicit emptyDir",
      withSet("    runtime: { profile: kata }\n    storage: { type: emptyDir }\n"),
      [
        `runnerSets[0].storage.type: expected "loopDisk" or "memory" under the kata profile, got "emptyDir" (virtio-fs volumes can't be an overlay upper layer)`,
      ],
    ],
    [
      "a mapping entry without a key",
      `${minimalText}? \n: 1\n`,
      ['[""]: unknown key (allowed here: github, kubernetes, tuning, runnerSets)'],
    ],
    [
      "kata on an ephemeral volume",
      withSet("    runtime: { profile: kata }\n    storage: { type: ephemeralVolume, size: 1Gi }\n"),
      [
        'runnerSets[0].storage.type: expected "loopDisk" or "memory" under the kata profile, got "ephemeralVolume" (virtio-fs volumes can\'t be an overlay upper layer)',
      ],
    ],
    [
      "maxRunners 0 with minIdle 1",
      withSet("").replace("maxRunners: 10", "maxRunners: 0").replace("minIdle: 0", "minIdle: 1"),
      ["runnerSets[0].minIdle: expected at most maxRunners (0), got 1"],
    ],
    [
      "rootless on a loop disk",
      withSet("    runtime: { profile: rootless }\n    storage: { type: loopDisk }\n"),
      [
        "runnerSets[0].storage.type: loopDisk needs a privileged dind (it mounts a loop device); the rootless profile isn't: use emptyDir, memory or ephemeralVolume",
      ],
    ],
    [
      "an env entry that isn't a mapping",
      withSet("    runner: { env: [5] }\n"),
      ["runnerSets[0].runner.env[0]: expected a mapping, got 5"],
    ],
    [
      "setting the JIT config variable",
      withSet("    runner: { env: [{ name: ACTIONS_RUNNER_INPUT_JITCONFIG, value: x }] }\n"),
      [
        'runnerSets[0].runner.env[0].name: expected a name dind-k8s doesn\'t set itself, got "ACTIONS_RUNNER_INPUT_JITCONFIG"',
      ],
    ],
    [
      "-H and --host as separate arguments",
      withSet("    dind: { args: ['-H', 'unix:///x.sock', '--host', 'tcp://0.0.0.0:2375'] }\n"),
      [
        `runnerSets[0].dind.args[0]: expected no -H/--host argument, got "-H": ${LISTENER_WHY}`,
        `runnerSets[0].dind.args[2]: expected no -H/--host argument, got "--host": ${LISTENER_WHY}`,
      ],
    ],
    [
      "-H joined to its value, grouped behind -D, and a config file (daemon.json can name hosts)",
      withSet(
        "    dind: { args: ['-Htcp://0.0.0.0:2375', '-DHtcp://0.0.0.0:2376', '--config-file=/etc/d.json', '--config-file', '/d.json', '-lHIGH'] }\n",
      ),
      [
        `runnerSets[0].dind.args[0]: expected no -H/--host argument, got "-Htcp://0.0.0.0:2375": ${LISTENER_WHY}`,
        `runnerSets[0].dind.args[1]: expected no -H/--host argument, got "-DHtcp://0.0.0.0:2376": ${LISTENER_WHY}`,
        `runnerSets[0].dind.args[2]: expected no --config-file argument, got "--config-file=/etc/d.json": a daemon.json can name "hosts" (TCP included) behind the arguments' back, and ${LISTENER_WHY}`,
        `runnerSets[0].dind.args[3]: expected no --config-file argument, got "--config-file": a daemon.json can name "hosts" (TCP included) behind the arguments' back, and ${LISTENER_WHY}`,
      ],
    ],
    [
      "a cache size that isn't a quantity",
      withSet("    cache: { volumes: 1, size: ten, pruneAbove: 1Gi }\n"),
      ['runnerSets[0].cache.size: expected a Kubernetes quantity such as 500m, 2 or 10Gi, got "ten"'],
    ],
    [
      "a pruneAbove above the size, both numbers",
      withSet("    cache: { volumes: 1, size: 1000, pruneAbove: 2000 }\n"),
      [
        "runnerSets[0].cache.pruneAbove: expected at most cache.size (1000), got 2000: the claim would fill up before any Pod prunes it",
      ],
    ],
    [
      "a cache on a loop disk",
      withSet("    cache: { volumes: 1, size: 1Gi }\n    storage: { type: loopDisk }\n"),
      [
        'runnerSets[0].storage.type: expected "emptyDir" or "ephemeralVolume" with a cache (what a Pod gets when every claim is in use), got "loopDisk"',
      ],
    ],
    [
      "a runnerGroup without org or repo",
      minimalText.replace("org: my-org", "runnerGroup: g"),
      ["github: required: set org or repo (where the runners register)"],
    ],
    [
      "a runnerGroup with org and repo",
      minimalText.replace("org: my-org", "org: my-org\n  repo: a/b\n  runnerGroup: g"),
      ["github: set only one of org, repo (where the runners register)"],
    ],
    [
      "a runnerGroup on a set of repository runners",
      minimalText
        .replace("org: my-org", "repo: a/b")
        .replace("    minIdle: 0\n", "    minIdle: 0\n    runnerGroup: g\n"),
      [
        "runnerSets[0].runnerGroup: runner groups exist only for organization runners: remove it, or register with github.org",
      ],
    ],
    [
      "a runner set that isn't a mapping",
      minimalText.replace("  - name: dind-k8s", "  - 5\n  - name: dind-k8s"),
      ["runnerSets[0]: expected a mapping, got 5"],
    ],
    [
      "two runner sets without a name",
      minimalText.replace(
        /runnerSets:[\s\S]*/,
        "runnerSets:\n  - { labels: [a], maxRunners: 1, minIdle: 0 }\n  - { labels: [b], maxRunners: 1, minIdle: 0 }\n",
      ),
      [
        "runnerSets[0].name: required: expected a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
        "runnerSets[1].name: required: expected a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
      ],
    ],
    [
      "labels that aren't all strings",
      minimalText.replace("labels: [dind-k8s]", "labels: [dind-k8s, 1]"),
      ["runnerSets[0].labels[1]: expected a label, got 1"],
    ],
    [
      "two sets with the same labels in another order and case",
      minimalText.replace(
        /runnerSets:[\s\S]*/,
        "runnerSets:\n  - { name: a, labels: [x, y], maxRunners: 1, minIdle: 0 }\n  - { name: b, labels: [Y, X], maxRunners: 1, minIdle: 0 }\n",
      ),
      ["runnerSets[1].labels: expected a label set no other runner set has, got the labels of runnerSets[0]"],
    ],
    [
      "an unknown key close to none",
      withSet("    runner: { envxyz: 1 }\n"),
      [
        "runnerSets[0].runner.envxyz: unknown key (allowed here: image, imagePullPolicy, resources, env, dockerGid, uid, sudo)",
      ],
    ],
    [
      "an unknown key two edits away",
      withSet("    runner: { imagexx: 1 }\n"),
      [
        'runnerSets[0].runner.imagexx: unknown key; did you mean "image"? (allowed here: image, imagePullPolicy, resources, env, dockerGid, uid, sudo)',
      ],
    ],
    [
      "an unknown long key three edits away",
      withSet("    dind: { registryMirrorsxyz: [] }\n"),
      [
        'runnerSets[0].dind.registryMirrorsxyz: unknown key; did you mean "registryMirrors"? (allowed here: image, imagePullPolicy, resources, args, mtu, registryMirrors)',
      ],
    ],
    [
      "an unknown key as close to two keys",
      withSet("    dind: { mtgs: 1 }\n"),
      [
        'runnerSets[0].dind.mtgs: unknown key; did you mean "args"? (allowed here: image, imagePullPolicy, resources, args, mtu, registryMirrors)',
      ],
    ],
  ])("%s", (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it.each([
    ["minIdle equal to maxRunners", withSet("").replace("minIdle: 0", "minIdle: 10")],
    ["a pruneAbove equal to the size", withSet("    cache: { volumes: 1, size: 1Gi, pruneAbove: 1Gi }\n")],
    [
      "kata on memory",
      withSet("    runtime: { profile: kata }\n    storage: { type: memory, sizeLimit: 1Gi }\n"),
    ],
    ["kata on a loop disk", withSet("    runtime: { profile: kata }\n    storage: { type: loopDisk }\n")],
    ["a dockerd argument that merely ends in -H", withSet("    dind: { args: ['--label=x-H'] }\n")],
    [
      "label sets that only join to the same text",
      minimalText.replace(
        /runnerSets:[\s\S]*/,
        "runnerSets:\n  - { name: a, labels: [ab, c], maxRunners: 1, minIdle: 0 }\n  - { name: b, labels: [a, bc], maxRunners: 1, minIdle: 0 }\n",
      ),
    ],
  ])("accepts %s", (_name, text) => {
    expect(() => parseConfig(text, "accepted.yaml")).not.toThrow();
  });
});

describe("where a problem is reported", () => {
  it("at the line of the value: a key with nothing after it, a mapping's first key, a list item", () => {
    expect(problemsOf("github:\nkubernetes:\n  namespace: x\nrunnerSets: []\n", { withLines: true })).toEqual(
      [
        "github: expected a mapping, got null (line 1)",
        "runnerSets: expected at least one runner set (line 4)",
      ],
    );
    expect(
      problemsOf(minimalText.replace("webhookSecretFile: /secrets/webhook-secret", "webhookSecret: x"), {
        withLines: true,
      }),
    ).toEqual([
      "github: required: set webhookSecretFile or webhookSecretEnv (the webhook secret; with intake poll it may be left out) (line 2)",
      "github.webhookSecret: unknown key; secrets are never written in the configuration: put it in a file and set webhookSecretFile (or webhookSecretEnv) (line 5)",
    ]);
    expect(
      problemsOf(minimalText.replace("    minIdle: 0\n", "    minIdle: 0\n  - 5\n"), { withLines: true }),
    ).toEqual(["runnerSets[1]: expected a mapping, got 5 (line 13)"]);
  });

  it("broken YAML: each error once, with its position in front and not repeated after it", () => {
    expect(problemsOf("github: {org: x\nkubernetes: [\n", { withLines: true })).toEqual([
      "line 2 column 1: not valid YAML: Flow map in block collection must be sufficiently indented and end with a }",
      "line 3 column 1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
  });

  it("the error is a ConfigError by name too (it is what the logs and the CLI show)", () => {
    expect(() => parseConfig("- 1\n", "x.yaml")).toThrow(expect.objectContaining({ name: "ConfigError" }));
  });
});

describe("wordings for any schema", () => {
  it("a limit zod words itself is still reported at its key, not thrown", () => {
    // zod's own wording ("Too big: …"): the toleration schema has no message of its own for it.
    expect(problemsOf(withSet("    tolerations: [{ tolerationSeconds: 1e20 }]\n"))).toEqual([
      expect.stringMatching(/^runnerSets\[0\]\.tolerations\[0\]\.tolerationSeconds: /),
    ]);
  });

  it("points an inline secret at its file form, and at the env form only when there is one", () => {
    expect(unknownKeyMessage("password", ["passwordFile"])).toBe(
      "unknown key; secrets are never written in the configuration: put it in a file and set passwordFile",
    );
  });

  it.each([
    [undefined, "nothing"],
    [null, "null"],
    ["x", '"x"'],
    [5, "5"],
    [true, "true"],
    [10n, "10"],
    [[1, 2], "a list of 2"],
    [{ a: 1 }, "a mapping"],
    [() => 1, "function"],
  ])("describeValue(%o) is %s", (value, words) => {
    expect(describeValue(value)).toBe(words);
  });

  it("collectProblems words a schema part without a message of its own the same way", () => {
    const schema = z.object({
      a: z.enum(["x", "y"]),
      b: z.literal("z"),
      c: z.boolean(),
      d: z.array(z.string()),
      e: z.object({}),
    });
    expect(collectProblems(schema, { a: "q", b: "w", c: 1, d: 2, e: 3 })).toEqual({
      ok: false,
      problems: [
        { path: ["a"], message: 'expected one of "x", "y", got "q"' },
        { path: ["b"], message: 'expected "z", got "w"' },
        { path: ["c"], message: "expected true or false, got 1" },
        { path: ["d"], message: "expected a list, got 2" },
        { path: ["e"], message: "expected a mapping, got 3" },
      ],
    });
  });
});
