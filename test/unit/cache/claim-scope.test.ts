// Which claim a job's Pod gets under cache.scope "repository", and when the claim's data must go first.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { holdsOtherData, takeClaim } from "../../../src/scaler/cache/claim-scope.ts";
import { ANNOTATIONS } from "../../../src/scaler/model/keys.ts";

const LAST_USE = JSON.stringify({ pod: "p", clean: true, at: "2026-01-01T00:00:00Z" });
function claim(name: string, annotations: Record<string, string> = {}): { claim: V1PersistentVolumeClaim } {
  return { claim: { metadata: { name, annotations } } };
}
const names = (slots: { claim: V1PersistentVolumeClaim }[]) => slots.map((s) => s.claim.metadata?.name);

describe("holdsOtherData", () => {
  it.each([
    ["a claim never used", {}, false],
    ["a claim last used for the same repository", { [ANNOTATIONS.cacheRepository]: "o/x" }, false],
    ["a claim last used for another repository", { [ANNOTATIONS.cacheRepository]: "o/y" }, true],
    // Used under scope runnerSet (or before repositories were recorded): data of repositories unknown.
    ["a used claim with no repository recorded", { [ANNOTATIONS.cacheLastUse]: LAST_USE }, true],
    [
      "a used claim of the same repository",
      { [ANNOTATIONS.cacheLastUse]: LAST_USE, [ANNOTATIONS.cacheRepository]: "o/x" },
      false,
    ],
  ])("%s for o/x: %s", (_what, annotations, expected) => {
    expect(holdsOtherData(claim("c", annotations).claim, "o/x")).toBe(expected);
  });
});

describe("takeClaim", () => {
  const pool = () => [
    claim("other", { [ANNOTATIONS.cacheRepository]: "o/y" }),
    claim("fresh"),
    claim("mine", { [ANNOTATIONS.cacheRepository]: "o/x" }),
    claim("unknown", { [ANNOTATIONS.cacheLastUse]: LAST_USE }),
  ];

  it("prefers the repository's own claim, then a fresh one, then one to empty, in pool order", () => {
    const free = pool();
    expect(names([takeClaim(free, "o/x")!, takeClaim(free, "o/x")!, takeClaim(free, "o/x")!])).toEqual([
      "mine",
      "fresh",
      "other",
    ]);
    expect(names(free)).toEqual(["unknown"]);
    expect(takeClaim(free, "o/x")?.claim.metadata?.name).toBe("unknown");
    expect(takeClaim(free, "o/x")).toBeUndefined();
  });

  it("without a repository (scope runnerSet): the first free claim", () => {
    const free = pool();
    expect(takeClaim(free, undefined)?.claim.metadata?.name).toBe("other");
    expect(free).toHaveLength(3);
  });
});
