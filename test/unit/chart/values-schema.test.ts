// charts/dind-k8s/values.schema.json: generated (chart keys + the configuration's parts), closed everywhere, and
// accepting values.yaml, every values fixture, and nothing with a misspelled or misplaced key.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartValuesJsonSchema, SECRET_LOCATION_KEYS } from "../../../scripts/gen-schema.ts";
import { configJsonSchema } from "../../../src/scaler/config/json-schema.ts";

const root = join(import.meta.dirname, "../../..");
const chart = join(root, "charts/dind-k8s");
const committed = JSON.parse(readFileSync(join(chart, "values.schema.json"), "utf8")) as Record<
  string,
  unknown
>;
const defaults: Record<string, unknown> = parse(readFileSync(join(chart, "values.yaml"), "utf8"));
const validate = new Ajv({ strict: false, allErrors: true }).compile(committed);
const fixtureDir = join(root, "test/fixtures/values");
const fixtures = readdirSync(fixtureDir).filter((name) => name.endsWith(".yaml"));

/** Helm's view: the user's values over values.yaml (mappings merged, lists and scalars replaced). */
function coalesce(base: unknown, over: unknown): unknown {
  const isMapping = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isMapping(base) || !isMapping(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = coalesce(base[key], value);
  return out;
}

function verdict(values: Record<string, unknown>): string[] {
  const merged = coalesce(defaults, values);
  if (validate(merged)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
}

const minimal = { github: { org: "my-org", auth: { appId: 1 } } };

describe("values.schema.json", () => {
  it("is what scripts/gen-schema.ts generates (run node scripts/gen-schema.ts when this fails)", () => {
    expect(committed).toEqual(chartValuesJsonSchema());
  });

  it("has only patterns Go's regexp (RE2) compiles — helm checks the schema with it: no lookaround, no backreferences", () => {
    const unsupported: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) for (const [i, child] of node.entries()) walk(child, `${path}[${i}]`);
      else if (typeof node === "object" && node !== null) {
        for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
          if (key === "pattern" && typeof child === "string" && /\(\?<?[=!]|\\[1-9]/.test(child)) {
            unsupported.push(`${path}: ${child}`);
          }
          walk(child, `${path}.${key}`);
        }
      }
    };
    walk(committed, "$");
    expect(unsupported).toEqual([]);
  });

  it("closes every object: additionalProperties is false wherever properties are listed", () => {
    const open: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) for (const [i, child] of node.entries()) walk(child, `${path}[${i}]`);
      else if (typeof node === "object" && node !== null) {
        const record = node as Record<string, unknown>;
        if (record.properties !== undefined && record.additionalProperties !== false) open.push(path);
        for (const [key, child] of Object.entries(record)) walk(child, `${path}.${key}`);
      }
    };
    walk(committed, "$");
    expect(open).toEqual([]);
  });

  it("has the configuration's kubernetes and runnerSets unchanged, and its github minus where secrets live", () => {
    const values = chartValuesJsonSchema().properties as Record<
      string,
      { properties: Record<string, unknown> }
    >;
    const config = configJsonSchema().properties as Record<string, { properties: Record<string, unknown> }>;
    expect(values.kubernetes).toEqual(config.kubernetes);
    expect(values.runnerSets).toEqual(config.runnerSets);
    const located: readonly string[] = SECRET_LOCATION_KEYS.github;
    expect(Object.keys(values.github!.properties).sort()).toEqual(
      Object.keys(config.github!.properties)
        .filter((key) => !located.includes(key))
        .sort(),
    );
    for (const key of Object.keys(values.github!.properties).filter((key) => key !== "auth"))
      expect(values.github!.properties[key]).toEqual(config.github!.properties[key]);
    const auth = values.github!.properties.auth as { properties: Record<string, unknown> };
    expect(Object.keys(auth.properties).sort()).toEqual(["appId", "installationId"]);
  });

  it("accepts the chart's own values.yaml plus github.org (the one value without a default)", () => {
    expect(verdict(minimal)).toEqual([]);
  });

  it("accepts Helm's global values, which a parent chart passes to this one as a subchart", () => {
    expect(verdict({ ...minimal, global: { imageRegistry: "registry.example.com" } })).toEqual([]);
  });

  it.each(fixtures)("accepts test/fixtures/values/%s", (name) => {
    const values = parse(readFileSync(join(fixtureDir, name), "utf8").replaceAll("RELEASE_NAMESPACE", "ci"));
    expect(verdict(values)).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["a misspelled chart key", { ...minimal, replicaCont: 2 }, "must NOT have additional properties"],
    ["a misspelled nested chart key", { ...minimal, ingress: { enable: true } }, "/ingress must NOT have"],
    ["zero replicas", { ...minimal, replicaCount: 0 }, "/replicaCount must be >= 1"],
    ["a log level the scaler lacks", { ...minimal, logLevel: "trace" }, "/logLevel must be equal to one of"],
    ["a bad quantity", { ...minimal, resources: { limits: { memory: "2GB" } } }, "/resources/limits/memory"],
    ["a bad service type", { ...minimal, service: { type: "External" } }, "/service/type"],
    [
      "a restricted runner namespace",
      { ...minimal, runnerNamespace: { podSecurity: "restricted" } },
      "podSecurity",
    ],
    [
      "a file path where the chart sets it",
      { github: { ...minimal.github, webhookSecretFile: "/x" } },
      "/github",
    ],
    [
      "a token file where the chart sets it",
      { github: { org: "my-org", auth: { tokenFile: "/t" } } },
      "/github/auth must NOT have additional properties",
    ],
    [
      "a negative maxRunners",
      { ...minimal, runnerSets: [{ name: "a", labels: ["a"], maxRunners: -1, minIdle: 0 }] },
      "/runnerSets/0/maxRunners",
    ],
    [
      "an unknown runner set key",
      { ...minimal, runnerSets: [{ name: "a", labels: ["a"], maxRunners: 1, minIdle: 0, maxRunner: 1 }] },
      "/runnerSets/0 must NOT have additional properties",
    ],
    ["no runner set", { ...minimal, runnerSets: [] }, "/runnerSets must NOT have fewer than 1 items"],
    ["a bad runner namespace", { ...minimal, kubernetes: { namespace: "Runners" } }, "/kubernetes/namespace"],
  ])("rejects %s", (_name, values, message) => {
    expect(verdict(values).join("\n")).toContain(message);
  });

  // Rules between keys are the templates' `fail`s (test/integration/chart-render.test.ts), in words that name the
  // keys: the schema says only shapes, or Helm would stop first with "'oneOf' failed, subschemas 0, 1 matched".
  it.each<[string, Record<string, unknown>]>([
    ["org and repo", { ...minimal, github: { org: "a", repo: "a/b", auth: {} } }],
    ["neither org nor repo", { ...minimal, github: { auth: {} } }],
    ["a token without hookId", { ...minimal, github: { org: "a", auth: {} } }],
    ["an installation without its App", { ...minimal, github: { org: "a", auth: { installationId: 2 } } }],
  ])("leaves %s to the templates", (_name, values) => {
    expect(verdict(values)).toEqual([]);
  });
});
