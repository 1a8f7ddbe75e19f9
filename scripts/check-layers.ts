// `npm run lint`'s check of the house rules (ARCHITECTURE.md), over the TypeScript compiler's own module graph:
// `tsc --explainFiles` says which file imports which, resolved as the compiler resolves them. It also type-checks,
// so lint runs tsc once. Fails on:
//   - an import from a folder to one of the same or a higher layer (dependencies only point down; two folders
//     of one layer never import each other, so there is no folder cycle);
//   - a cycle between files;
//   - a value import of an I/O module (network, files, processes, the Kubernetes or GitHub clients) in pure code;
//   - a file under src/ over 350 lines without a `// Size:` line in its header saying why.
// `node scripts/check-layers.ts --graph` prints the folder graph instead.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";

/** Each folder of src/ (or file, for the entry points) and its layer: a module imports only lower layers. */
export const LAYERS: Record<string, number> = {
  // The Docker Engine API client: node: built-ins only.
  "src/docker": 0,
  // The action: the runner protocol through @actions/*, the daemon through docker/.
  "src/action": 1,
  // The scaler, bottom up.
  "src/scaler/model": 0,
  "src/scaler/observe": 0,
  "src/scaler/config": 1,
  "src/scaler/runner-pod": 2,
  "src/scaler/plan": 3,
  "src/scaler/kube": 3,
  "src/scaler/github": 3,
  "src/scaler/webhook": 3,
  "src/scaler/cache": 4,
  "src/scaler/records": 4,
  "src/scaler/http": 5,
  "src/scaler/reconcile": 5,
  // What serve reads at start besides the configuration: secrets, tuning.
  "src/scaler/startup": 6,
  // The scaler's wiring: the files directly in src/scaler/ (a new folder must be given a layer).
  "src/scaler/*": 7,
  "src/cli.ts": 8,
};

/** Folders whose code is pure: it may name I/O libraries' types, never call them. */
export const PURE = ["src/scaler/model", "src/scaler/config", "src/scaler/runner-pod", "src/scaler/plan"];

/** Modules that do I/O. A type-only import of them is fine in pure code (V1Pod is a shape). */
const IO_MODULES =
  /^(node:)?(fs|fs\/promises|http|https|http2|net|tls|dgram|dns|child_process|worker_threads|cluster)$|^@kubernetes\/client-node$|^@octokit\/|^prom-client$/;

/** Parts of src/ that must not import each other at all (the action never loads the scaler, and back). */
const SEPARATE: [string, string][] = [
  ["src/action", "src/scaler"],
  ["src/scaler", "src/action"],
  ["src/docker", "src/scaler"],
];

const MAX_LINES = 350;

/**
 * The folder (or entry file) a source file belongs to: the longest key of LAYERS that contains it. A key ending
 * in `/*` holds only the files directly in that folder.
 */
export function unitOf(file: string): string | undefined {
  let best: string | undefined;
  for (const unit of Object.keys(LAYERS)) {
    const inside = unit.endsWith("/*")
      ? file.startsWith(unit.slice(0, -1)) && !file.slice(unit.length - 1).includes("/")
      : file === unit || file.startsWith(`${unit}/`);
    if (inside && (best === undefined || unit.length > best.length)) best = unit;
  }
  return best;
}

export interface Edge {
  from: string;
  to: string;
}

/** Edges between project files (and to packages) from `tsc --explainFiles` output. */
export function parseExplainFiles(output: string): Edge[] {
  const edges: Edge[] = [];
  let current: string | undefined;
  for (const line of output.split("\n")) {
    if (line !== "" && !line.startsWith(" ")) {
      current = line.trim();
      continue;
    }
    const match = /^\s+Imported via "[^"]+" from file '([^']+)'/.exec(line);
    if (match && current) edges.push({ from: match[1]!, to: current });
  }
  return edges;
}

export function layerProblems(edges: readonly Edge[]): string[] {
  const problems: string[] = [];
  for (const { from, to } of edges) {
    if (!from.startsWith("src/") || !to.startsWith("src/")) continue;
    const a = unitOf(from);
    const b = unitOf(to);
    if (a === undefined || b === undefined) {
      problems.push(
        `${a === undefined ? from : to}: in no layer; add its folder to LAYERS in scripts/check-layers.ts`,
      );
      continue;
    }
    if (a === b) continue;
    for (const [x, y] of SEPARATE) {
      if (from.startsWith(`${x}/`) && to.startsWith(`${y}/`)) {
        problems.push(`${from} imports ${to}: ${x} never imports ${y}`);
      }
    }
    if (LAYERS[b]! >= LAYERS[a]!) {
      problems.push(
        `${from} imports ${to}: ${a} (layer ${LAYERS[a]}) may import only lower layers, and ${b} is layer ${LAYERS[b]}`,
      );
    }
  }
  return problems;
}

/** Every cycle between files under src/, each reported once, as a path. */
export function cycles(edges: readonly Edge[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!from.startsWith("src/") || !to.startsWith("src/")) continue;
    graph.set(from, [...(graph.get(from) ?? []), to]);
  }
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

/** Value imports of I/O modules in pure folders, read from the import declarations (type-only ones pass). */
export function purityProblems(file: string, source: string): string[] {
  if (!PURE.some((folder) => file.startsWith(`${folder}/`))) return [];
  const problems: string[] = [];
  const declaration = /^import\s+(type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/gms;
  for (const match of source.matchAll(declaration)) {
    const typeOnly = match[1] !== undefined;
    const module = match[2]!;
    if (!typeOnly && IO_MODULES.test(module)) {
      problems.push(`${file} imports ${module}: pure code may import its types only ('import type')`);
    }
  }
  return problems;
}

export function sizeProblems(file: string, source: string): string[] {
  const lines = source.split("\n").length;
  if (lines <= MAX_LINES) return [];
  const header = source.split("\n").slice(0, 15);
  if (header.some((line) => line.startsWith("// Size:"))) return [];
  return [`${file}: ${lines} lines; split it, or say why it is one file in a '// Size:' line of its header`];
}

function main(): void {
  const root = join(import.meta.dirname, "..");
  const tsc = join(root, "node_modules", ".bin", "tsc");
  const result = spawnSync(tsc, ["--noEmit", "-p", root, "--explainFiles"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  const output = result.stdout;
  // Type errors are the lines of the form `file(line,col): error TS…`; explainFiles lines never are.
  const typeErrors = output
    .split("\n")
    .filter((line) => /\): error TS\d+:/.test(line) || /^error TS/.test(line));
  const edges = parseExplainFiles(output).map(({ from, to }) => ({
    from: relative(root, join(root, from)),
    to: relative(root, join(root, to)),
  }));
  if (process.argv.includes("--graph")) {
    const folders = new Set<string>();
    for (const { from, to } of edges) {
      const a = from.startsWith("src/") ? unitOf(from) : undefined;
      const b = to.startsWith("src/") ? unitOf(to) : undefined;
      if (a && b && a !== b) folders.add(`${a} -> ${b}`);
    }
    process.stdout.write(`${[...folders].sort().join("\n")}\n`);
    return;
  }
  const files = [...new Set(edges.flatMap(({ from, to }) => [from, to]))].filter((file) =>
    file.startsWith("src/"),
  );
  const problems = [
    ...layerProblems(edges),
    ...cycles(edges).map((cycle) => `import cycle: ${cycle.join(" -> ")}`),
  ];
  for (const file of files.sort()) {
    const source = readFileSync(join(root, file), "utf8");
    problems.push(...purityProblems(file, source), ...sizeProblems(file, source));
  }
  if (typeErrors.length > 0) process.stderr.write(`${typeErrors.join("\n")}\n`);
  if (problems.length > 0) {
    process.stderr.write(`house rules (ARCHITECTURE.md):\n${problems.map((p) => `  ${p}`).join("\n")}\n`);
  }
  if (result.status !== 0 && typeErrors.length === 0) process.stderr.write(result.stderr || output);
  if (result.status !== 0 || problems.length > 0) process.exit(1);
  process.stdout.write(`house rules: ${files.length} files, ${edges.length} imports, no problem\n`);
}

if (import.meta.main) main();
