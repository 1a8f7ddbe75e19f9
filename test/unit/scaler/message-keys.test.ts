// Every configuration key the scaler names in a message (an error, a hint, a log line) is a key the
// configuration file has: a hint that names `github.apiUrl` when the key is `github.url` sends people looking for
// something that isn't there.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { configJsonSchema } from "../../../src/scaler/config/json-schema.ts";

const root = join(import.meta.dirname, "../../..");

type Schema = {
  properties?: Record<string, Schema>;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
};

/** Every key path the schema allows, `runnerSets[].storage.size` style for arrays. */
function keyPaths(schema: Schema, prefix = "", into = new Set<string>()): Set<string> {
  for (const sub of [...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) {
    keyPaths(sub, prefix, into);
  }
  if (schema.items) keyPaths(schema.items, `${prefix}[]`, into);
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    into.add(path);
    keyPaths(sub, path, into);
  }
  return into;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The text inside string and template literals on each line (messages are written on one line each). */
function literals(line: string): string[] {
  return [...line.matchAll(/(["'`])((?:\\.|(?!\1).)*)\1/g)].map((match) => match[2] ?? "");
}

/** Key paths under github / kubernetes a text names; `github.com` in a host name is not one. */
function namedKeys(text: string): string[] {
  return [...text.matchAll(/(?<![\w./:-])((?:github|kubernetes)(?:\.[a-zA-Z]+)+)/g)]
    .map((match) => match[1] ?? "")
    .filter((key) => key !== "github.com");
}

describe("configuration keys named in the scaler's messages", () => {
  const known = keyPaths(configJsonSchema() as Schema);

  it("finds keys in text, and not host names", () => {
    expect(
      namedKeys("(github.url / github.apiUrl) at https://github.com, api.github.com or github.com"),
    ).toEqual(["github.url", "github.apiUrl"]);
    expect(known.has("github.url")).toBe(true);
    expect(known.has("github.hookId")).toBe(true);
    expect(known.has("github.apiUrl / github.serverUrl")).toBe(false);
  });

  it("exist in the configuration schema", () => {
    const unknown: string[] = [];
    for (const file of [...sourceFiles(join(root, "src/scaler")), join(root, "src/cli.ts")]) {
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, index) => {
          for (const key of literals(line).flatMap(namedKeys)) {
            if (!known.has(key)) unknown.push(`${relative(root, file)}:${index + 1}: ${key}`);
          }
        });
    }
    expect(unknown).toEqual([]);
  });
});
