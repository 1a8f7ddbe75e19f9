// The configuration as parsed YAML, before the schema has checked it: what the rules between keys read.
export type Raw = Record<string, unknown>;

/** `value` when it is a mapping (not a list, not null), else undefined. */
export function mapping(value: unknown): Raw | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Raw) : undefined;
}
