// What the generators share: formatting Markdown as `biome check` wants it, and `--check` (fail on a committed
// file that differs from what the generator makes) or writing the file.
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** As `biome check` formats Markdown at `path` (it pads table columns), so lint stays green after a regeneration. */
export function formatMarkdown(text: string, path: string): string {
  const biome = join(import.meta.dirname, "..", "node_modules", ".bin", "biome");
  return execFileSync(biome, ["format", `--stdin-file-path=${path}`], { input: text, encoding: "utf8" });
}

/** With `--check`: exits 1 when `target` differs from `text`. Otherwise writes it. `script` says how to regenerate. */
export async function writeOrCheck(target: string, text: string, script: string): Promise<void> {
  if (process.argv.includes("--check")) {
    const current = await readFile(target, "utf8").catch(() => "");
    if (current !== text) {
      process.stderr.write(`${target} is out of date: run node scripts/${script}\n`);
      process.exit(1);
    }
    process.stdout.write(`${target} is up to date\n`);
    return;
  }
  await writeFile(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
