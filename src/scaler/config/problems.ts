// Turns zod issues into problems a user can act on: the key's path, what was expected, what was found, and for
// an unknown key the key that was probably meant.
import type { z } from "zod";
import { fieldPath } from "../model/field-path.ts";
import { describeValue } from "./primitives.ts";

export type PathSegment = string | number;

export interface Problem {
  path: PathSegment[];
  message: string;
}

/** `runnerSets[0].dind.mtu`; keys that aren't identifiers are quoted: `podLabels["app.kubernetes.io/x"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  return fieldPath(path) || "(top level)";
}

export function formatProblem(problem: Problem): string {
  return `${formatPath(problem.path)}: ${problem.message}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  record: "a mapping",
};

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** What to say about an unknown key, given the keys that are allowed at that place. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  // A secret written inline (`webhookSecret: …`) gets pointed at the file/env form instead of a bare "unknown".
  const fileForm = known.find((k) => k === `${key}File`);
  if (fileForm !== undefined) {
    const envForm = known.find((k) => k === `${key}Env`);
    return `unknown key; secrets are never written in the configuration: put it in a file and set ${fileForm}${envForm ? ` (or ${envForm})` : ""}`;
  }
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = levenshtein(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = `allowed here: ${known.join(", ")}`;
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3))) {
    return `unknown key; did you mean "${best}"? (${allowed})`;
  }
  return `unknown key (${allowed})`;
}

/**
 * Parses with zod and returns every problem. The error map sees the schema instance of an object with unknown
 * keys; it records that object's allowed keys so the problem can suggest the intended one.
 */
export function collectProblems<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; value: z.output<S> } | { ok: false; problems: Problem[] } {
  const knownKeys = new WeakMap<object, string[]>();
  const result = schema.safeParse(input, {
    reportInput: true,
    error: (issue) => {
      if (issue.code === "unrecognized_keys") {
        const shape = (issue.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape;
        if (shape !== undefined && typeof issue.input === "object" && issue.input !== null) {
          knownKeys.set(issue.input, Object.keys(shape));
        }
        return "unknown key";
      }
      if (issue.code === "invalid_type") {
        const what = TYPE_WORDS[issue.expected] ?? issue.expected;
        return issue.input === undefined
          ? `required: expected ${what}`
          : `expected ${what}, got ${describeValue(issue.input)}`;
      }
      if (issue.code === "invalid_value") {
        const values = issue.values.map((v) => JSON.stringify(v)).join(", ");
        return `expected ${issue.values.length === 1 ? values : `one of ${values}`}, got ${describeValue(issue.input)}`;
      }
      return undefined;
    },
  });
  if (result.success) return { ok: true, value: result.data };

  const problems: Problem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const known =
        typeof issue.input === "object" && issue.input !== null ? knownKeys.get(issue.input) : undefined;
      for (const key of issue.keys) {
        problems.push({ path: [...path, key], message: unknownKeyMessage(key, known ?? []) });
      }
    } else if (
      issue.code === "invalid_union" &&
      "discriminator" in issue &&
      typeof issue.discriminator === "string"
    ) {
      const input = issue.input as Record<string, unknown> | undefined;
      const value = typeof input === "object" && input !== null ? input[issue.discriminator] : input;
      // zod already ends the path with the discriminator when the key is present but wrong.
      const where = path.at(-1) === issue.discriminator ? path : [...path, issue.discriminator];
      problems.push({ path: where, message: `${issue.message}, got ${describeValue(value)}` });
    } else {
      problems.push({ path, message: issue.message });
    }
  }
  return { ok: false, problems };
}
