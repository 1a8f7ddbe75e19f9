// `npm run lint`: actionlint over the repository's workflows (.github/workflows/) and over every workflow snippet
// in the README (a ```yaml block with `on:` and `jobs:`), so what users copy is as checked as what CI runs.
// actionlint comes from the parts cache (`npm run testenv` builds it; test/env/actionlint.ts); without it this
// fails, naming the command that builds it.
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { findActionlint } from "../test/env/actionlint.ts";

const root = join(import.meta.dirname, "..");

export interface Snippet {
  /** 1-based line of the block's first YAML line in the markdown. */
  line: number;
  text: string;
}

/** The ```yaml blocks of `markdown` that are workflows (a mapping with `on` and `jobs`). */
export function workflowSnippets(markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ya?ml\s*$/.test(lines[i] ?? "")) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? "")) end++;
    const text = `${lines.slice(start, end).join("\n")}\n`;
    i = end;
    let document: unknown;
    try {
      document = parse(text);
    } catch {
      // Not YAML a workflow could be; a snippet that is meant as a workflow and broken still has on/jobs text.
      if (/^on:/m.test(text) && /^jobs:/m.test(text)) snippets.push({ line: start + 1, text });
      continue;
    }
    if (typeof document === "object" && document !== null && "jobs" in document && "on" in document) {
      snippets.push({ line: start + 1, text });
    }
  }
  return snippets;
}

function actionlint(bin: string, args: string[], stdin?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const config = join(".github", "actionlint.yaml");
    const child = spawn(bin, ["-no-color", "-config-file", config, ...args], {
      cwd: root,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
    child.stdin.end(stdin ?? "");
  });
}

async function main(): Promise<void> {
  const bin = await findActionlint();
  const workflowDir = join(root, ".github", "workflows");
  const workflows = (await readdir(workflowDir))
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => join(".github", "workflows", name));
  if (workflows.length === 0) throw new Error(`no workflow in ${workflowDir}: the release story lives there`);
  const failures: string[] = [];
  const checked = await actionlint(bin, workflows);
  if (checked.code !== 0) failures.push(checked.output);

  const snippets = workflowSnippets(await readFile(join(root, "README.md"), "utf8"));
  if (snippets.length === 0)
    throw new Error("README.md: no workflow snippet found; expected at least the Quickstart's");
  for (const snippet of snippets) {
    // The name carries the README line, so actionlint's messages point into the README.
    const result = await actionlint(
      bin,
      ["-stdin-filename", `README.md (snippet at line ${snippet.line})`, "-"],
      snippet.text,
    );
    if (result.code !== 0) failures.push(result.output);
  }
  if (failures.length > 0) {
    process.stderr.write(`${failures.join("")}check-workflows: actionlint found problems (above)\n`);
    process.exit(1);
  }
  process.stdout.write(
    `actionlint ${workflows.length} workflows and ${snippets.length} README snippets: clean\n`,
  );
}

if (import.meta.main) {
  await main().catch((error: unknown) => {
    process.stderr.write(`check-workflows: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
