import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { workflowSnippets } from "../../../scripts/check-workflows.ts";

describe("the README's workflow snippets", () => {
  it("are the yaml blocks with on and jobs, with the line each starts on", () => {
    const markdown = [
      "# t", // 1
      "```yaml", // 2
      "github:", // 3
      "  org: my-org", // 4
      "```", // 5
      "```yaml", // 6
      "# .github/workflows/build.yml", // 7
      "on: push", // 8
      "jobs:", // 9
      "  build: { runs-on: dind-k8s, steps: [{ run: make }] }", // 10
      "```", // 11
      "```sh", // 12
      "on: x", // 13
      "jobs: y", // 14
      "```", // 15
    ].join("\n");
    const snippets = workflowSnippets(markdown);
    expect(snippets.map((snippet) => snippet.line)).toEqual([7]);
    expect(snippets[0]?.text).toContain("runs-on: dind-k8s");
  });

  it("include a workflow whose YAML is broken, so actionlint reports it instead of lint passing it over", () => {
    const markdown = ["```yaml", "on: push", "jobs:", "  build:", "\truns-on: x", "```"].join("\n");
    expect(workflowSnippets(markdown)).toHaveLength(1);
  });
});

describe("check-workflows without actionlint", () => {
  it("fails and says how to build it", () => {
    const cache = mkdtempSync(join(tmpdir(), "dind-k8s-no-actionlint-"));
    try {
      const result = spawnSync(
        process.execPath,
        [join(import.meta.dirname, "../../../scripts/check-workflows.ts")],
        { env: { ...process.env, DIND_K8S_CACHE: cache }, encoding: "utf8" },
      );
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("actionlint v1.7.12 is not built at");
      expect(result.stderr).toContain("run 'npm run testenv' to build it");
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
