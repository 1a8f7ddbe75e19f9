// Rules across keys (exactly one of org/repo, minIdle ≤ maxRunners, storage that works under kata …). They run
// on the raw input next to the schema, even when some other key is malformed, so one run lists every problem.
import { cleartextProblem } from "../model/cleartext-url.ts";
import { QUANTITY_PATTERN, quantityToBytes } from "../model/quantity.ts";
import { refusedDaemonArgs } from "./daemon-listeners.ts";
import type { Problem } from "./problems.ts";
import { mapping, type Raw } from "./raw.ts";
import { checkTemplate } from "./template-rules.ts";

function has(object: Raw, key: string): boolean {
  return object[key] !== undefined;
}

function exactlyOne(
  object: Raw,
  path: (string | number)[],
  keys: string[],
  problems: Problem[],
  why: string,
) {
  const present = keys.filter((k) => has(object, k));
  if (present.length === 1) return;
  const names = keys.join(" or ");
  problems.push({
    path,
    message:
      present.length === 0
        ? `required: set ${names} (${why})`
        : `set only one of ${present.join(", ")} (${why})`,
  });
}

function checkGithub(github: Raw, problems: Problem[]) {
  exactlyOne(github, ["github"], ["org", "repo"], problems, "where the runners register");
  for (const key of ["url", "apiUrl"]) {
    // A value that isn't an http(s) URL at all is the schema's to report.
    const value = github[key];
    const problem =
      typeof value === "string" && /^https?:\/\//.test(value) ? cleartextProblem(value) : undefined;
    if (problem) problems.push({ path: ["github", key], message: problem });
  }
  const secretKeys = ["webhookSecretFile", "webhookSecretEnv"];
  // The poll reads deliveries through GitHub's API with our credentials: it has no signature to check.
  const noSecretNeeded = github.intake === "poll" && !secretKeys.some((key) => has(github, key));
  if (!noSecretNeeded) {
    exactlyOne(
      github,
      ["github"],
      secretKeys,
      problems,
      "the webhook secret; with intake poll it may be left out",
    );
  }
  const auth = mapping(github.auth);
  if (auth === undefined) return;
  const appKeys = ["appId", "installationId", "privateKeyFile", "privateKeyEnv"].filter((k) => has(auth, k));
  const tokenKeys = ["tokenFile", "tokenEnv"].filter((k) => has(auth, k));
  if (appKeys.length > 0 && tokenKeys.length > 0) {
    problems.push({
      path: ["github", "auth"],
      message: `use a GitHub App (${appKeys.join(", ")}) or a token (${tokenKeys.join(", ")}), not both`,
    });
    return;
  }
  if (tokenKeys.length > 0) {
    exactlyOne(auth, ["github", "auth"], ["tokenFile", "tokenEnv"], problems, "the token");
    if (!has(github, "hookId")) {
      problems.push({
        path: ["github", "hookId"],
        message:
          "required with a token (github.auth.tokenFile or tokenEnv): the redelivery sweep lists the failed deliveries of that webhook. Set it to the number at the end of the webhook's settings URL (…/settings/hooks/<id>), or use a GitHub App (github.auth.appId), whose own hook needs none",
      });
    }
    return;
  }
  if (appKeys.length === 0) {
    problems.push({
      path: ["github", "auth"],
      message: "required: appId with privateKeyFile (a GitHub App), or tokenFile (a personal access token)",
    });
    return;
  }
  if (!has(auth, "appId"))
    problems.push({ path: ["github", "auth", "appId"], message: "required: the App's id" });
  exactlyOne(
    auth,
    ["github", "auth"],
    ["privateKeyFile", "privateKeyEnv"],
    problems,
    "the App's private key",
  );
}

const STORAGE_TYPES = ["emptyDir", "memory", "ephemeralVolume", "loopDisk"];
const KATA_STORAGE = ["loopDisk", "memory"];

function checkRunnerSet(set: Raw, index: number, problems: Problem[]) {
  const path = ["runnerSets", index];
  const count = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;
  if (count(set.maxRunners) && count(set.minIdle) && set.minIdle > set.maxRunners) {
    problems.push({
      path: [...path, "minIdle"],
      message: `expected at most maxRunners (${set.maxRunners}), got ${set.minIdle}`,
    });
  }
  if (Array.isArray(set.schedules)) {
    set.schedules.forEach((value, i) => {
      const window = mapping(value);
      if (window === undefined || !count(window.minIdle)) return;
      const limit = count(window.maxRunners) ? window.maxRunners : set.maxRunners;
      if (count(limit) && window.minIdle > limit) {
        problems.push({
          path: [...path, "schedules", i, "minIdle"],
          message: `expected at most ${count(window.maxRunners) ? "the window's maxRunners" : "maxRunners"} (${limit}), got ${window.minIdle}`,
        });
      }
    });
  }
  const profile = mapping(set.runtime)?.profile ?? "privileged";
  const storageType = mapping(set.storage)?.type;
  const knownType = STORAGE_TYPES.includes(String(storageType));
  if (profile === "kata" && knownType && !KATA_STORAGE.includes(String(storageType))) {
    problems.push({
      path: [...path, "storage", "type"],
      message: `expected "loopDisk" or "memory" under the kata profile, got ${JSON.stringify(storageType)} (virtio-fs volumes can't be an overlay upper layer)`,
    });
  }
  if ((profile === "sysbox" || profile === "rootless") && storageType === "loopDisk") {
    problems.push({
      path: [...path, "storage", "type"],
      message: `loopDisk needs a privileged dind (it mounts a loop device); the ${profile} profile isn't: use emptyDir, memory or ephemeralVolume`,
    });
  }
  checkTemplate(set.template, [...path, "template"], profile, problems);
  const cache = mapping(set.cache);
  if (cache !== undefined) checkCache(cache, path, profile, storageType, problems);
  const env = mapping(set.runner)?.env;
  if (Array.isArray(env)) {
    env.forEach((item, i) => {
      const name = mapping(item)?.name;
      if (name === "ACTIONS_RUNNER_INPUT_JITCONFIG" || name === "DOCKER_HOST") {
        problems.push({
          path: [...path, "runner", "env", i, "name"],
          message: `expected a name dind-k8s doesn't set itself, got ${JSON.stringify(name)}`,
        });
      }
    });
  }
  const args = mapping(set.dind)?.args;
  if (Array.isArray(args)) {
    const strings = args.map((arg) => (typeof arg === "string" ? arg : ""));
    for (const { index, message } of refusedDaemonArgs(strings)) {
      problems.push({ path: [...path, "dind", "args", index], message });
    }
  }
}

function bytesOf(value: unknown): number | undefined {
  const text = typeof value === "number" ? String(value) : value;
  return typeof text === "string" && QUANTITY_PATTERN.test(text) ? quantityToBytes(text) : undefined;
}

function checkCache(
  cache: Raw,
  path: (string | number)[],
  profile: unknown,
  storageType: unknown,
  problems: Problem[],
) {
  // The claim replaces the set's /var/lib/docker volume; the set's storage is what a Pod gets when every claim
  // is in use. Both must be disks an overlayfs can live on.
  if (profile === "kata") {
    problems.push({
      path: [...path, "cache"],
      message:
        "a cache volume can't hold the daemon's data under the kata profile (virtio-fs can't be an overlay upper layer): remove cache or use another profile",
    });
  }
  if (storageType === "memory" || storageType === "loopDisk") {
    problems.push({
      path: [...path, "storage", "type"],
      message: `expected "emptyDir" or "ephemeralVolume" with a cache (what a Pod gets when every claim is in use), got ${JSON.stringify(storageType)}`,
    });
  }
  const size = bytesOf(cache.size);
  const pruneAbove = bytesOf(cache.pruneAbove);
  if (size !== undefined && pruneAbove !== undefined && pruneAbove > size) {
    problems.push({
      path: [...path, "cache", "pruneAbove"],
      message: `expected at most cache.size (${String(cache.size)}), got ${String(cache.pruneAbove)}: the claim would fill up before any Pod prunes it`,
    });
  }
}

export function checkRules(input: unknown): Problem[] {
  const problems: Problem[] = [];
  const root = mapping(input);
  if (root === undefined) return problems;
  const github = mapping(root.github);
  if (github !== undefined) checkGithub(github, problems);
  // GitHub has runner groups only for organization (and enterprise) runners.
  const repoRunners = github !== undefined && github.repo !== undefined && github.org === undefined;
  const groupProblem =
    "runner groups exist only for organization runners: remove it, or register with github.org";
  if (repoRunners && github.runnerGroup !== undefined) {
    problems.push({ path: ["github", "runnerGroup"], message: groupProblem });
  }
  if (!Array.isArray(root.runnerSets)) return problems;

  const firstWithName = new Map<string, number>();
  const firstWithLabels = new Map<string, number>();
  root.runnerSets.forEach((value, index) => {
    const set = mapping(value);
    if (set === undefined) return;
    checkRunnerSet(set, index, problems);
    if (repoRunners && set.runnerGroup !== undefined) {
      problems.push({ path: ["runnerSets", index, "runnerGroup"], message: groupProblem });
    }
    if (typeof set.name === "string") {
      const earlier = firstWithName.get(set.name);
      if (earlier === undefined) firstWithName.set(set.name, index);
      else
        problems.push({
          path: ["runnerSets", index, "name"],
          message: `expected a unique name, got ${JSON.stringify(set.name)} again (runnerSets[${earlier}] has it)`,
        });
    }
    if (Array.isArray(set.labels) && set.labels.every((l) => typeof l === "string")) {
      // Labels match case-insensitively on GitHub; two sets with one label set would race for the same jobs.
      const key = [...new Set(set.labels.map((l: string) => l.toLowerCase()))].sort().join(",");
      const earlier = firstWithLabels.get(key);
      if (earlier === undefined) firstWithLabels.set(key, index);
      else
        problems.push({
          path: ["runnerSets", index, "labels"],
          message: `expected a label set no other runner set has, got the labels of runnerSets[${earlier}]`,
        });
    }
  });
  return problems;
}
