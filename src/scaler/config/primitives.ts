// Small schema builders whose error messages read "expected <what>, got <value>", so every problem a user sees
// has the same shape: `runnerSets[0].maxRunners: expected a whole number ≥ 0, got -1`.
import { z } from "zod";
import { QUANTITY_PATTERN } from "../model/quantity.ts";

/** A value as a user would write it in YAML: strings quoted, lists and mappings named, nothing for absent. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === "object") return "a mapping";
  return typeof value;
}

/** `expected X, got Y`, or `required: expected X` when the key is missing. */
export function expected(what: string, input: unknown): string {
  return input === undefined ? `required: expected ${what}` : `expected ${what}, got ${describeValue(input)}`;
}

function messageFor(what: string) {
  return { error: (issue: { input?: unknown }) => expected(what, issue.input) };
}

export function wholeNumber(min: number, max?: number) {
  const what = max === undefined ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
  const schema = z.int(messageFor(what)).min(min, messageFor(what));
  return max === undefined ? schema : schema.max(max, messageFor(what));
}

export function text(what = "a string") {
  return z.string(messageFor(what)).min(1, messageFor(`${what} (not empty)`));
}

export function matching(pattern: RegExp, what: string, maxLength?: number) {
  const schema = z.string(messageFor(what)).regex(pattern, messageFor(what));
  return maxLength === undefined
    ? schema
    : schema.max(maxLength, messageFor(`${what}, at most ${maxLength} characters`));
}

/** RFC 1123 label: Kubernetes names of namespaces, runner sets (they become part of Pod names). */
export function dnsLabel(maxLength = 63) {
  return matching(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    "a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
    maxLength,
  );
}

/** RFC 1123 subdomain: names of ServiceAccounts, PriorityClasses, RuntimeClasses, Secrets, StorageClasses. */
export function dnsSubdomain() {
  return matching(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    "a Kubernetes object name (lowercase letters, digits, '-' and '.')",
    253,
  );
}

export function absolutePath() {
  return matching(/^\/\S*$/, "an absolute file path such as /secrets/app.pem");
}

export function envVarName() {
  return matching(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name such as GITHUB_TOKEN");
}

export function httpUrl() {
  return matching(/^https?:\/\/[^\s/]+(\/\S*)?$/, "an http(s) URL such as https://github.com");
}

export function image() {
  return matching(/^[^\s]+$/, "a container image reference such as docker:29-dind");
}

/** A Kubernetes quantity; YAML numbers are accepted and kept as strings so Pod specs stay stable. */
export function quantity() {
  const what = "a Kubernetes quantity such as 500m, 2 or 10Gi";
  // A union of two checked members (not a transform feeding a check) so the JSON Schema keeps the pattern.
  return z
    .union(
      [z.string().regex(QUANTITY_PATTERN, messageFor(what)), z.number().nonnegative(messageFor(what))],
      messageFor(what),
    )
    .transform((value) => String(value));
}

/** Exactly the strings given, in the "expected one of" wording. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, messageFor(`one of ${values.map((v) => JSON.stringify(v)).join(", ")}`));
}

/** Objects reject unknown keys: a typo must not silently become a default. */
export function strictObject<T extends z.ZodRawShape>(shape: T) {
  // Only the type mismatch is worded here; unknown keys go to the parse-level map, which suggests a known key.
  return z.strictObject(shape, {
    error: (issue) => (issue.code === "invalid_type" ? expected("a mapping", issue.input) : undefined),
  });
}

// apimachinery's qualified name: an optional DNS subdomain prefix and "/", then a name of up to 63 characters.
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const KEY_WHAT = "a label key such as team or example.com/team";

function recordMessages(what: string) {
  return {
    error: (issue: { code?: string; input?: unknown }) =>
      issue.code === "invalid_key" ? expected(KEY_WHAT, issue.input) : expected(what, issue.input),
  };
}

/** Labels (or a node selector): keys and values as Kubernetes accepts them. */
export function labelMap() {
  return z.record(
    z.string().regex(LABEL_KEY, messageFor(KEY_WHAT)),
    z
      .string(messageFor("a string"))
      .regex(LABEL_VALUE, messageFor("a label value (up to 63 letters, digits, '-', '_' or '.')")),
    recordMessages("a mapping of label keys to values"),
  );
}

/** Annotations: keys like labels, any string values. */
export function annotationMap() {
  return z.record(
    z.string().regex(LABEL_KEY, messageFor(KEY_WHAT)),
    z.string(messageFor("a string")),
    recordMessages("a mapping of annotation keys to strings"),
  );
}

export function list<T extends z.ZodType>(item: T, what: string) {
  return z.array(item, messageFor(what));
}
