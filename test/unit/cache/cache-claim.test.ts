// The cache pool's pure parts: configuration, the claims, the Pod that uses one, and the reports read back.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, type RunnerSet } from "../../../src/scaler/config/load.ts";
import { ANNOTATIONS, LABELS, SCHEDULING_GATE } from "../../../src/scaler/model/keys.ts";
import { viewPod } from "../../../src/scaler/plan/pod-view.ts";
import { buildRunnerPod } from "../../../src/scaler/runner-pod/build-runner-pod.ts";
import {
  buildCacheClaim,
  cacheClaimSelector,
  cacheReportOf,
  claimOf,
  claimOutdated,
  pruneAboveBytes,
  withCacheClaim,
} from "../../../src/scaler/runner-pod/cache-claim.ts";

const minimal = readFileSync(join(import.meta.dirname, "../../fixtures/config/minimal.yaml"), "utf8");
const withSet = (extra: string) => minimal.replace("    minIdle: 0\n", `    minIdle: 0\n${extra}`);

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, "test.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.replace(/ \(line \d+\)$/, ""));
    throw error;
  }
  throw new Error("expected the configuration to be refused");
}

function setWith(extra: string): RunnerSet {
  return parseConfig(withSet(extra), "test.yaml").runnerSets[0]!;
}

const job = { kind: "job", jobId: 77, runAttempt: 1, repository: "o/r", runId: 5 } as const;
const dindOf = (pod: V1Pod): V1Container =>
  [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === "dind")!;
const envOf = (pod: V1Pod) => Object.fromEntries((dindOf(pod).env ?? []).map((e) => [e.name, e.value]));

describe("cache configuration", () => {
  it("accepts volumes, size, class and watermark", () => {
    const set = setWith(
      "    cache: { volumes: 3, size: 50Gi, storageClassName: fast-ssd, pruneAbove: 40Gi }\n",
    );
    // Per repository unless the set says otherwise.
    expect(set.cache).toEqual({
      volumes: 3,
      size: "50Gi",
      storageClassName: "fast-ssd",
      pruneAbove: "40Gi",
      scope: "repository",
    });
  });

  it.each([
    [
      "no size",
      "    cache: { volumes: 2 }\n",
      ["runnerSets[0].cache.size: required: expected a Kubernetes quantity such as 500m, 2 or 10Gi"],
    ],
    [
      "no volumes",
      "    cache: { size: 10Gi }\n",
      ["runnerSets[0].cache.volumes: required: expected a whole number from 1 to 100"],
    ],
    [
      "a watermark above the size",
      "    cache: { volumes: 1, size: 10Gi, pruneAbove: 20Gi }\n",
      [
        "runnerSets[0].cache.pruneAbove: expected at most cache.size (10Gi), got 20Gi: the claim would fill up before any Pod prunes it",
      ],
    ],
    [
      "memory storage as the fallback",
      "    storage: { type: memory, sizeLimit: 4Gi }\n    cache: { volumes: 1, size: 10Gi }\n",
      [
        'runnerSets[0].storage.type: expected "emptyDir" or "ephemeralVolume" with a cache (what a Pod gets when every claim is in use), got "memory"',
      ],
    ],
    [
      "the kata profile",
      "    runtime: { profile: kata }\n    cache: { volumes: 1, size: 10Gi }\n",
      [
        "runnerSets[0].cache: a cache volume can't hold the daemon's data under the kata profile (virtio-fs can't be an overlay upper layer): remove cache or use another profile",
      ],
    ],
  ])("refuses %s, naming the key", (_what, extra, expected) => {
    expect(problemsOf(withSet(extra))).toEqual(expected);
  });
});

describe("the claims of a pool", () => {
  const set = setWith("    cache: { volumes: 2, size: 20Gi, storageClassName: fast }\n");

  it("are ReadWriteOncePod claims of the configured size and class, labelled with set and index", () => {
    const claim = buildCacheClaim(set, 1, "runners");
    expect(claim.apiVersion).toBe("v1");
    expect(claim.kind).toBe("PersistentVolumeClaim");
    expect(claim.metadata?.name).toBe("dind-k8s-cache-1");
    expect(claim.metadata?.namespace).toBe("runners");
    expect(claim.metadata?.labels).toEqual({
      "app.kubernetes.io/name": "dind-k8s",
      "app.kubernetes.io/managed-by": "dind-k8s",
      "app.kubernetes.io/part-of": "dind-k8s",
      "app.kubernetes.io/component": "docker-cache",
      "dind-k8s.io/runner-set": "dind-k8s",
      "dind-k8s.io/cache-index": "1",
    });
    expect(claim.spec).toEqual({
      accessModes: ["ReadWriteOncePod"],
      storageClassName: "fast",
      resources: { requests: { storage: "20Gi" } },
    });
  });

  it("are found by a selector that matches this set's claims and no other set's", () => {
    const matches = (selector: string, labels: Record<string, string> = {}) =>
      selector.split(",").every((term) => {
        const [key, value] = term.split("=");
        return labels[key!] === value;
      });
    const selector = cacheClaimSelector("dind-k8s");
    expect(matches(selector, buildCacheClaim(set, 0, "runners").metadata?.labels)).toBe(true);
    expect(matches(selector, buildCacheClaim({ ...set, name: "other" }, 0, "runners").metadata?.labels)).toBe(
      false,
    );
    // A runner Pod of the set carries the set and managed-by labels too, but isn't a claim.
    expect(
      matches(
        selector,
        buildRunnerPod(set, job, { namespace: "r", sidecars: "native" }).pod.metadata?.labels,
      ),
    ).toBe(false);
  });

  it("are not made for a set without a cache", () => {
    expect(() => buildCacheClaim(setWith(""), 0, "runners")).toThrow("runner set dind-k8s has no cache");
  });

  it("a claim without a recorded size is outdated (and reading it doesn't throw)", () => {
    expect(claimOutdated({}, set.cache!)).toBe(true);
    expect(claimOutdated({ spec: {} }, set.cache!)).toBe(true);
    expect(
      claimOutdated({ spec: { resources: {} } }, { volumes: 1, size: "20Gi", scope: "repository" }),
    ).toBe(true);
  });

  it("a claim that got the cluster's default class is not outdated when the set names no class", () => {
    const claim = buildCacheClaim(setWith("    cache: { volumes: 1, size: 20Gi }\n"), 0, "runners");
    // The apiserver fills in the default StorageClass.
    claim.spec!.storageClassName = "standard";
    expect(claimOutdated(claim, { volumes: 1, size: "20Gi", scope: "repository" })).toBe(false);
  });

  it("are outdated when the size or the class changed", () => {
    const claim = buildCacheClaim(set, 0, "runners");
    expect(claimOutdated(claim, set.cache!)).toBe(false);
    expect(claimOutdated(claim, { ...set.cache!, size: "30Gi" })).toBe(true);
    expect(claimOutdated(claim, { ...set.cache!, storageClassName: "slow" })).toBe(true);
    // 20Gi written another way is the same size.
    expect(claimOutdated(claim, { ...set.cache!, size: String(20 * 2 ** 30) })).toBe(false);
  });

  it("prune at 80% of the size unless told otherwise", () => {
    expect(pruneAboveBytes({ volumes: 1, size: "10Gi", scope: "repository" })).toBe(
      Math.floor(10 * 2 ** 30 * 0.8),
    );
    expect(pruneAboveBytes({ volumes: 1, size: "10Gi", scope: "repository", pruneAbove: "1Gi" })).toBe(
      2 ** 30,
    );
  });
});

describe("a runner Pod on a claim", () => {
  for (const [profile, dataRoot] of [
    ["privileged", "/var/lib/docker"],
    ["rootless", "/home/rootless/.local/share/docker"],
  ] as const) {
    it(`${profile}: the same gated Pod with its data root on the claim and the upkeep environment`, () => {
      const set = setWith(`    runtime: { profile: ${profile} }\n    cache: { volumes: 1, size: 10Gi }\n`);
      const { pod } = buildRunnerPod(set, job, { namespace: "runners", sidecars: "native" });
      // As read back from the apiserver: server fields that a new object must not carry.
      const live: V1Pod = {
        ...pod,
        metadata: {
          ...pod.metadata,
          uid: "u-1",
          resourceVersion: "42",
          creationTimestamp: new Date("2026-01-01T00:00:00Z"),
        },
        status: { phase: "Pending" },
      };
      const replaced = withCacheClaim(live, set, {
        claim: "dind-k8s-cache-0",
        check: true,
        queuedAt: "2026-01-01T00:00:00.000Z",
      });
      expect(replaced.metadata?.uid).toBeUndefined();
      expect(replaced.metadata?.resourceVersion).toBeUndefined();
      expect(replaced.status).toBeUndefined();
      expect(replaced.metadata?.name).toBe(pod.metadata?.name);
      expect(replaced.metadata?.labels).toEqual({
        ...pod.metadata?.labels,
        [LABELS.cacheClaim]: "dind-k8s-cache-0",
      });
      expect(replaced.spec?.schedulingGates).toEqual([{ name: SCHEDULING_GATE }]);
      expect(claimOf(replaced)).toBe("dind-k8s-cache-0");
      expect(claimOf(pod)).toBeUndefined();
      expect(dindOf(replaced).volumeMounts).toContainEqual({ name: "dind-storage", mountPath: dataRoot });
      expect(envOf(replaced)).toMatchObject({
        DIND_K8S_CACHE_VOLUME: "1",
        DIND_K8S_DATA_ROOT: dataRoot,
        DIND_K8S_CACHE_PRUNE_ABOVE: String(Math.floor(10 * 2 ** 30 * 0.8)),
        DIND_K8S_CACHE_CHECK: "1",
      });
      expect(dindOf(replaced).startupProbe?.failureThreshold).toBe(480);
      expect(dindOf(pod).startupProbe?.failureThreshold).toBe(180);
      // The input is untouched (it is the informer's object).
      expect(claimOf(live)).toBeUndefined();
      // The replacement keeps the original's place in the queue.
      expect(
        viewPod({ ...replaced, metadata: { ...replaced.metadata, creationTimestamp: new Date() } })
          .createdAtMs,
      ).toBe(Date.parse("2026-01-01T00:00:00Z"));
    });
  }

  it("asks for no check when the last Pod stopped its daemon cleanly", () => {
    const set = setWith("    cache: { volumes: 1, size: 10Gi }\n");
    const { pod } = buildRunnerPod(set, job, { namespace: "runners", sidecars: "legacy" });
    const replaced = withCacheClaim(pod, set, { claim: "c", check: false, queuedAt: "2026-01-01T00:00:00Z" });
    expect(envOf(replaced).DIND_K8S_CACHE_CHECK).toBeUndefined();
    // The dind's own environment stays, the cache's is added, nothing else.
    expect(dindOf(replaced).env?.map((e) => e.name)).toEqual([
      "DIND_K8S_MTU",
      "DIND_K8S_STOP_FILE",
      "DIND_K8S_CACHE_VOLUME",
      "DIND_K8S_DATA_ROOT",
      "DIND_K8S_CACHE_PRUNE_ABOVE",
    ]);
    expect(replaced.apiVersion).toBe("v1");
    expect(replaced.kind).toBe("Pod");
    // Only the storage volume moves to the claim.
    expect(replaced.spec?.volumes?.filter((v) => v.persistentVolumeClaim)).toEqual([
      { name: "dind-storage", persistentVolumeClaim: { claimName: "c" } },
    ]);
    expect(replaced.spec?.volumes?.map((v) => v.name)).toEqual(pod.spec?.volumes?.map((v) => v.name));
    expect(replaced.metadata?.annotations?.[ANNOTATIONS.queuedAt]).toBe("2026-01-01T00:00:00Z");
  });

  it("tells the start script to empty a claim that holds another repository's data", () => {
    const set = setWith("    cache: { volumes: 1, size: 10Gi }\n");
    const { pod } = buildRunnerPod(set, job, { namespace: "runners", sidecars: "native" });
    const use = { claim: "c", check: false, queuedAt: "2026-01-01T00:00:00Z" };
    expect(envOf(withCacheClaim(pod, set, { ...use, wipe: true })).DIND_K8S_CACHE_WIPE).toBe("1");
    expect(envOf(withCacheClaim(pod, set, { ...use, wipe: false })).DIND_K8S_CACHE_WIPE).toBeUndefined();
  });
});

describe("a hand-made or foreign Pod on a claim", () => {
  const set = setWith("    cache: { volumes: 1, size: 10Gi }\n");
  const use = { claim: "c", check: false, queuedAt: "2026-01-01T00:00:00Z" };
  const minimalPod = (dind: V1Container, extra: Partial<V1Pod["metadata"]> = {}): V1Pod => ({
    metadata: { name: "p", ...extra },
    spec: { containers: [dind], volumes: [{ name: "dind-storage", emptyDir: {} }] },
  });

  it("replaces the storage volume wherever it is, and gives a dind without env just the cache's", () => {
    const replaced = withCacheClaim(minimalPod({ name: "dind" }), set, use);
    expect(replaced.spec?.volumes).toEqual([
      { name: "dind-storage", persistentVolumeClaim: { claimName: "c" } },
    ]);
    expect(dindOf(replaced).env?.map((e) => e.name)).toEqual([
      "DIND_K8S_CACHE_VOLUME",
      "DIND_K8S_DATA_ROOT",
      "DIND_K8S_CACHE_PRUNE_ABOVE",
    ]);
    // No probe to lengthen: none is made up.
    expect(dindOf(replaced).startupProbe).toBeUndefined();
  });

  it("never shortens a startup probe that already allows longer, and keeps owner references", () => {
    const ownerReferences = [{ apiVersion: "v1", kind: "Pod", name: "o", uid: "u" }];
    const replaced = withCacheClaim(
      minimalPod({ name: "dind", startupProbe: { failureThreshold: 900 } }, { ownerReferences }),
      set,
      use,
    );
    expect(dindOf(replaced).startupProbe?.failureThreshold).toBe(900);
    expect(replaced.metadata?.ownerReferences).toEqual(ownerReferences);
  });

  it("applied twice, sets each variable once", () => {
    const once = withCacheClaim(minimalPod({ name: "dind", env: [{ name: "KEEP", value: "1" }] }), set, use);
    const twice = withCacheClaim(once, set, { ...use, claim: "d" });
    expect(dindOf(twice).env?.map((e) => e.name)).toEqual([
      "KEEP",
      "DIND_K8S_CACHE_VOLUME",
      "DIND_K8S_DATA_ROOT",
      "DIND_K8S_CACHE_PRUNE_ABOVE",
    ]);
    expect(claimOf(twice)).toBe("d");
  });

  it.each([
    ["a set without a cache", minimalPod({ name: "dind" }), setWith(""), "runner set dind-k8s has no cache"],
    ["a Pod without a spec", { metadata: { name: "p" } }, set, "Pod p has no spec"],
    [
      "a Pod without a storage volume",
      { metadata: { name: "p" }, spec: { containers: [{ name: "dind" }] } },
      set,
      "Pod p has no dind-storage volume to put on a claim",
    ],
    ["a Pod without a dind container", minimalPod({ name: "runner" }), set, "Pod p has no dind container"],
  ])("refuses %s", (_why, pod, forSet, message) => {
    expect(() => withCacheClaim(pod, forSet, use)).toThrow(message);
  });

  it("claimOf reads no claim from a Pod without a spec, volumes or storage volume", () => {
    expect(claimOf({})).toBeUndefined();
    expect(claimOf({ spec: { containers: [] } })).toBeUndefined();
    expect(claimOf({ spec: { containers: [], volumes: [{ name: "work", emptyDir: {} }] } })).toBeUndefined();
  });
});

describe("the dind container's report", () => {
  const podWith = (message: string | undefined): V1Pod => ({
    status: {
      initContainerStatuses: [
        {
          name: "dind",
          image: "",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, ...(message === undefined ? {} : { message }) } },
        },
      ],
    },
  });

  it("is read from its termination message", () => {
    expect(cacheReportOf(podWith('{"dataBytes":1234,"clean":true}'))).toEqual({
      dataBytes: 1234,
      clean: true,
    });
  });

  it.each([undefined, "", "not json", '{"dataBytes":"x","clean":true}', '{"dataBytes":1,"clean":"yes"}'])(
    "is absent for %j",
    (message) => {
      expect(cacheReportOf(podWith(message))).toBeUndefined();
    },
  );

  it("is read from dind, not from another container that terminated first", () => {
    const status = (name: string, message?: string) => ({
      name,
      image: "",
      imageID: "",
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode: 0, ...(message ? { message } : {}) } },
    });
    const pod: V1Pod = {
      status: {
        initContainerStatuses: [status("init-externals", '{"dataBytes":1,"clean":false}'), status("dind")],
      },
    };
    expect(cacheReportOf(pod)).toBeUndefined();
    // Legacy sidecars: dind is a plain container.
    expect(
      cacheReportOf({
        status: { containerStatuses: [status("runner"), status("dind", '{"dataBytes":2,"clean":true}')] },
      }),
    ).toEqual({
      dataBytes: 2,
      clean: true,
    });
  });

  it("is absent while dind runs, before it reports a state, or when the Pod has no status", () => {
    const base = { name: "dind", image: "", imageID: "", ready: true, restartCount: 0 };
    expect(cacheReportOf({})).toBeUndefined();
    expect(cacheReportOf({ status: {} })).toBeUndefined();
    expect(cacheReportOf({ status: { initContainerStatuses: [base] } })).toBeUndefined();
    expect(
      cacheReportOf({ status: { initContainerStatuses: [{ ...base, state: { running: {} } }] } }),
    ).toBeUndefined();
  });
});
