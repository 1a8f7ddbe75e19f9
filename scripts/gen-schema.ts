// Writes charts/dind-k8s/values.schema.json from the configuration's zod schema (src/scaler/config/schema.ts), so
// Helm and the scaler accept exactly the same shape. `--check` fails when the committed file is out of date.
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { valuesJsonSchema } from "../src/scaler/config/json-schema.ts";

const root = join(import.meta.dirname, "..");
const target = join(root, "charts", "dind-k8s", "values.schema.json");
const schema = valuesJsonSchema();

if (process.argv.includes("--check")) {
  // Compared as data: the file is formatted by biome, not byte-equal to JSON.stringify.
  const current: unknown = JSON.parse(await readFile(target, "utf8").catch(() => "null"));
  if (!isDeepStrictEqual(current, schema)) {
    process.stderr.write(`${target} is out of date: run node scripts/gen-schema.ts\n`);
    process.exit(1);
  }
  process.stdout.write(`${target} is up to date\n`);
} else {
  await writeFile(target, `${JSON.stringify(schema, null, 2)}\n`);
  // Formatted the way `biome check` wants it, so lint stays green after a regeneration.
  execFileSync(join(root, "node_modules", ".bin", "biome"), ["format", "--write", target], {
    stdio: "ignore",
  });
  process.stdout.write(`wrote ${target}\n`);
}
