// The action is published as this repository's root action.yml with a moving tag (.github/workflows/release.yml
// moves v1, the major version of the action's interface, to each release), so workflows say
// `uses: dind-k8s/dind-k8s@v1`. Every place a user
// copies the step from says exactly that.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const ACTION_REF = "dind-k8s/dind-k8s@v1";

describe("the action reference users copy", () => {
  it.each(["README.md", "charts/dind-k8s/templates/NOTES.txt", "scripts/demo.ts"])(
    `%s names only ${ACTION_REF}`,
    (file) => {
      const text = readFileSync(join(root, file), "utf8");
      const refs = [...text.matchAll(/uses: ([\w.-]+\/[\w.-]+@[\w.-]+)/g)]
        .map((match) => match[1])
        .filter((ref) => !ref?.startsWith("actions/"));
      expect(new Set(refs)).toEqual(new Set([ACTION_REF]));
    },
  );

  it("is the tag the release workflow moves", () => {
    const release = readFileSync(join(root, ".github/workflows/release.yml"), "utf8");
    expect(release).toContain(`ACTION_MAJOR: ${ACTION_REF.split("@")[1]}\n`);
    expect(release).toContain('git push --force origin "refs/tags/$ACTION_MAJOR"');
  });
});
