// The README's generated sections (configuration reference, metrics) must match their sources.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configReference, podTemplateExamples, rbacReference, renderReadme } from "../../scripts/gen-docs.ts";
import { TEMPLATE_EXAMPLES, templateExample } from "../helpers/templates.ts";

describe("README", () => {
  it("has current configuration and metrics tables (run node scripts/gen-docs.ts)", async () => {
    const current = await readFile(join(import.meta.dirname, "../../README.md"), "utf8");
    expect(await renderReadme(current)).toBe(current);
  });

  it("documents every key of the minimal configuration", () => {
    const reference = configReference();
    for (const key of [
      "github.org",
      "github.auth.appId",
      "kubernetes.namespace",
      "runnerSets[].maxRunners",
      "runnerSets[].minIdle",
    ]) {
      expect(reference).toContain(`| \`${key}\` |`);
    }
  });

  it("lists every rule of the scaler's Role, the cache claims' included", () => {
    const table = rbacReference();
    expect(table).toContain("| core | `persistentvolumeclaims` | list, create, patch, delete | any |");
    expect(table).toContain("| `coordination.k8s.io` | `leases` | get, update | `dind-k8s-scaler` |");
  });

  it("shows each worked Pod template example, as the fixture the tests load", () => {
    const examples = podTemplateExamples();
    for (const name of TEMPLATE_EXAMPLES) {
      const body = templateExample(name)
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("#"))
        .map((line) => `  ${line}`)
        .join("\n");
      expect(examples).toContain(`\`${name}.yaml\`: `);
      expect(examples).toContain(body);
    }
  });
});
