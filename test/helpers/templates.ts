// The README's worked Pod template examples (test/fixtures/templates/*.yaml, each one runner set as a YAML list
// item) and a configuration built around runner sets written that way.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const TEMPLATE_FIXTURES = join(import.meta.dirname, "../fixtures/templates");
export const TEMPLATE_EXAMPLES = ["ca-bundle", "proxy-env", "zone-spread"] as const;

export function templateExample(name: (typeof TEMPLATE_EXAMPLES)[number]): string {
  return readFileSync(join(TEMPLATE_FIXTURES, `${name}.yaml`), "utf8");
}

const minimal = readFileSync(join(import.meta.dirname, "../fixtures/config/minimal.yaml"), "utf8");

/** The minimal configuration with `sets` (YAML list items at column 0) as its runnerSets, in `namespace`. */
export function configWithSets(sets: string, namespace = "dind-runners"): string {
  const head = minimal.slice(0, minimal.indexOf("runnerSets:")).replace("dind-runners", namespace);
  return `${head}runnerSets:\n${sets.replace(/^(?=.)/gm, "  ")}`;
}
