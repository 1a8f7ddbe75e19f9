// Configuration file → validated Config, with every problem listed at once (schema and cross-key rules).
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import { collectProblems, formatProblem, type PathSegment, type Problem } from "./problems.ts";
import { checkRules } from "./rules.ts";
import { type Config, configSchema, type RunnerSet } from "./schema.ts";

export type { Config, RunnerSet } from "./schema.ts";

/** Thrown when a configuration file can't be used; `problems` are already formatted, one per line. */
export class ConfigError extends Error {
  readonly file: string;
  readonly problems: string[];

  constructor(file: string, problems: string[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`${file}: ${count} in the configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.file = file;
    this.problems = problems;
  }
}

/** The line of the deepest node of `path` that exists, so a missing key points at its parent mapping. */
function lineOf(
  document: ReturnType<typeof parseDocument>,
  lines: LineCounter,
  path: PathSegment[],
): number | undefined {
  let node: unknown = document.contents;
  let line: number | undefined;
  const lineOfNode = (candidate: unknown) => {
    const range = (candidate as { range?: [number, number, number] } | null)?.range;
    return range === undefined ? undefined : lines.linePos(range[0]).line;
  };
  line = lineOfNode(node);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === segment);
      if (pair === undefined) break;
      // Prefer the value's line; an unknown key has no meaningful value position, its key line is as good.
      line = lineOfNode(pair.value) ?? lineOfNode(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      node = node.items[segment];
      line = lineOfNode(node) ?? line;
    } else break;
  }
  return line;
}

/** Parses and validates configuration text. `file` only names the source in messages. */
export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((error) => {
        const at = lines.linePos(error.pos[0]);
        return `line ${at.line} column ${at.col}: not valid YAML: ${error.message.split("\n")[0]}`;
      }),
    );
  }
  const input: unknown = document.toJS();
  if (input === null || input === undefined) {
    throw new ConfigError(file, [
      "the file is empty: expected a mapping with github, kubernetes and runnerSets",
    ]);
  }
  const parsed = collectProblems(configSchema, input);
  const problems: Problem[] = [...(parsed.ok ? [] : parsed.problems), ...checkRules(input)];
  if (problems.length > 0 || !parsed.ok) {
    // In file order, so the list reads top to bottom next to the file; ties keep the order found.
    const located = problems.map((problem) => ({ problem, line: lineOf(document, lines, problem.path) }));
    located.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
    const formatted = located.map(
      ({ problem, line }) => `${formatProblem(problem)}${line === undefined ? "" : ` (line ${line})`}`,
    );
    throw new ConfigError(file, formatted);
  }
  return parsed.value;
}

/** Reads (with the caller's `read`: this module does no I/O of its own) and validates a configuration file. */
export async function loadConfig(file: string, read: (path: string) => Promise<string>): Promise<Config> {
  let text: string;
  try {
    text = await read(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(file, [`can't read the configuration file: ${reason}`]);
  }
  return parseConfig(text, file);
}

export function findRunnerSet(config: Config, name: string): RunnerSet | undefined {
  return config.runnerSets.find((set) => set.name === name);
}
