// The chart's generated parts are current: the Role's rules (from SCALER_ROLE_RULES) and the README's parameter
// tables (from the ## @param lines of values.yaml, every key documented).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { rbacRulesTemplate, runnerImagesTemplate } from "../../../scripts/gen-chart-rbac.ts";
import {
  paramProblems,
  paramsMarkdown,
  parseParams,
  renderReadme,
} from "../../../scripts/gen-chart-readme.ts";
import { SCALER_ROLE_RULES } from "../../../src/scaler/kube/rbac.ts";

const chart = join(import.meta.dirname, "../../../charts/dind-k8s");
const read = (path: string) => readFileSync(join(chart, path), "utf8");

describe("templates/_rbac-rules.tpl", () => {
  it("is what scripts/gen-chart-rbac.ts generates (run it when this fails)", () => {
    expect(read("templates/_rbac-rules.tpl")).toBe(rbacRulesTemplate());
  });

  it("holds SCALER_ROLE_RULES as YAML inside the dind-k8s.scalerRoleRules template", () => {
    const body = /define "dind-k8s\.scalerRoleRules" -\}\}\n([\s\S]*)\{\{- end/.exec(
      rbacRulesTemplate(),
    )?.[1];
    expect(parse(body ?? "")).toEqual(SCALER_ROLE_RULES);
  });
});

describe("templates/_runner-images.tpl", () => {
  it("is what scripts/gen-chart-rbac.ts generates from the default images (run it when this fails)", () => {
    expect(read("templates/_runner-images.tpl")).toBe(runnerImagesTemplate());
  });
});

describe("README.md parameters", () => {
  it("are what scripts/gen-chart-readme.ts generates (run it when this fails)", async () => {
    const current = read("README.md");
    expect(await renderReadme(current)).toBe(current);
  });

  it("document every key of values.yaml, and only keys the schema knows", () => {
    const text = read("values.yaml");
    const problems = paramProblems(parseParams(text), parse(text), JSON.parse(read("values.schema.json")));
    expect(problems).toEqual([]);
  });

  it("name the undocumented key, the unknown key and the duplicate", () => {
    const text = [
      "## @section S",
      "## @param a.b documented",
      "## @param a.typo not a key",
      "## @param a.b twice",
      "a:",
      "  b: 1",
      "  c: {}",
      "d: [1]",
    ].join("\n");
    const schema = { properties: { a: { properties: { b: {}, c: {} } }, d: {} } };
    expect(paramProblems(parseParams(text), parse(text), schema)).toEqual([
      "@param a.typo: values.schema.json has no such key",
      "@param a.b appears twice",
      "a.c in values.yaml has no ## @param line",
      "d in values.yaml has no ## @param line",
    ]);
  });

  it("render one table per section with the defaults of values.yaml", () => {
    const text = "## @section Things\n## @param a.b The b | pipe\n## @param a.c Unset\na:\n  b: x\n";
    expect(paramsMarkdown(parseParams(text), parse(text))).toBe(
      [
        "### Things",
        "",
        "| Key | Description | Default |",
        "| --- | --- | --- |",
        '| `a.b` | The b \\| pipe | `"x"` |',
        "| `a.c` | Unset | (unset) |",
      ].join("\n"),
    );
  });
});

describe("templates", () => {
  it("name every template they define with the chart's prefix", () => {
    const names = readdirSync(join(chart, "templates")).flatMap((file) =>
      [...read(`templates/${file}`).matchAll(/define\s+"([^"]+)"/g)].map((match) => match[1]!),
    );
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((name) => !name.startsWith("dind-k8s."))).toEqual([]);
  });
});
