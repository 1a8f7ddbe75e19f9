// The configuration's JSON Schema and the scaler's validator come from one zod schema: both must accept and
// refuse the same files, and the chart's values.schema.json must carry the same runner set shape.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { configJsonSchema } from "../../../src/scaler/config/json-schema.ts";
import { parseConfig } from "../../../src/scaler/config/load.ts";

const root = join(import.meta.dirname, "../../..");
const committed: unknown = JSON.parse(readFileSync(join(root, "charts/dind-k8s/values.schema.json"), "utf8"));
const validate = new Ajv({ strict: false, allErrors: true }).compile(configJsonSchema());
const fixture = (name: string) => readFileSync(join(root, "test/fixtures/config", name), "utf8");

function bothVerdicts(text: string): { zod: boolean; jsonSchema: boolean } {
  let zod = true;
  try {
    parseConfig(text, "x.yaml");
  } catch {
    zod = false;
  }
  return { zod, jsonSchema: validate(parse(text)) };
}

describe("the configuration JSON Schema and charts/dind-k8s/values.schema.json", () => {
  it("describes runner sets exactly as the validator's schema does (regenerate it when this fails)", () => {
    const runnerSets = (schema: unknown) =>
      (schema as { properties: { runnerSets: unknown } }).properties.runnerSets;
    expect(runnerSets(committed)).toEqual(runnerSets(configJsonSchema()));
  });

  it("closes every object: additionalProperties is false wherever properties are listed", () => {
    const open: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (Array.isArray(node)) {
        for (const [i, child] of node.entries()) walk(child, `${path}[${i}]`);
      } else if (typeof node === "object" && node !== null) {
        const record = node as Record<string, unknown>;
        if (record.properties !== undefined && record.additionalProperties !== false) open.push(path);
        for (const [key, child] of Object.entries(record)) {
          // An `if` is a condition on keys the shape already closes; closed, it would match only objects with
          // nothing else in them.
          if (key !== "if") walk(child, `${path}.${key}`);
        }
      }
    };
    walk(committed, "$");
    walk(configJsonSchema(), "config");
    expect(open).toEqual([]);
  });

  const minimal = fixture("minimal.yaml");
  it.each([
    ["the minimal file", minimal, true],
    ["the profiles file", fixture("profiles.yaml"), true],
    ["an unknown top-level key", `${minimal}extra: 1\n`, false],
    ["an unknown runner set key", minimal.replace("minIdle: 0", "minIdle: 0\n    maxRunner: 1"), false],
    ["an unknown nested key", minimal.replace("minIdle: 0", "minIdle: 0\n    dind: { mtuu: 1400 }"), false],
    ["a negative maxRunners", minimal.replace("maxRunners: 10", "maxRunners: -1"), false],
    ["a bad storage type", minimal.replace("minIdle: 0", "minIdle: 0\n    storage: { type: disk }"), false],
    [
      "a bad quantity",
      minimal.replace("minIdle: 0", "minIdle: 0\n    storage: { type: memory, sizeLimit: 2GB }"),
      false,
    ],
    ["an inline secret", minimal.replace("webhookSecretFile:", "webhookSecret:"), false],
    ["no webhook secret", minimal.replace("  webhookSecretFile: /secrets/webhook-secret\n", ""), false],
    ["org and repo", minimal.replace("org: my-org", "org: my-org\n  repo: a/b"), false],
    ["neither org nor repo", minimal.replace("  org: my-org\n", ""), false],
    [
      "a token instead of the App",
      minimal.replace(
        "auth: { appId: 1, privateKeyFile: /secrets/app.pem }",
        "auth: { tokenEnv: GH_TOKEN }\n  hookId: 7",
      ),
      true,
    ],
    [
      "a token without github.hookId",
      minimal.replace("appId: 1, privateKeyFile: /secrets/app.pem", "tokenEnv: GH_TOKEN"),
      false,
    ],
    ["App and token", minimal.replace("appId: 1,", "appId: 1, tokenFile: /t,"), false],
    ["an App without its key", minimal.replace(", privateKeyFile: /secrets/app.pem", ""), false],
    ["an App key without the App id", minimal.replace("appId: 1, ", ""), false],
    [
      "an App with its key from the environment",
      minimal.replace("privateKeyFile: /secrets/app.pem", "privateKeyEnv: APP_KEY"),
      true,
    ],
  ])("%s: the validator and the JSON Schema agree", (_name, text, valid) => {
    expect(bothVerdicts(text)).toEqual({ zod: valid, jsonSchema: valid });
  });
});
