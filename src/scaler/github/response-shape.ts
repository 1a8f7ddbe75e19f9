/**
 * Readers for the fields we use from GitHub responses. They fail loudly with the endpoint and the field when a
 * response does not have the documented shape (a proxy answering HTML, an API version change), instead of letting
 * `undefined` travel into Kubernetes objects.
 */
export class ResponseShapeError extends Error {
  constructor(where: string, field: string, expected: string, value: unknown) {
    super(`GitHub ${where}: expected ${field} to be ${expected}, got ${JSON.stringify(value)?.slice(0, 80)}`);
    this.name = "ResponseShapeError";
  }
}

export type Json = Record<string, unknown>;

export function record(value: unknown, where: string, field = "the response body"): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ResponseShapeError(where, field, "an object", value);
  }
  return value as Json;
}

export function list(value: unknown, where: string, field: string): unknown[] {
  if (!Array.isArray(value)) throw new ResponseShapeError(where, field, "an array", value);
  return value;
}

export function integer(object: Json, key: string, where: string): number {
  const value = object[key];
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new ResponseShapeError(where, key, "an integer", value);
  }
  return value;
}

export function text(object: Json, key: string, where: string): string {
  const value = object[key];
  if (typeof value !== "string") throw new ResponseShapeError(where, key, "a string", value);
  return value;
}

export function nullableText(object: Json, key: string, where: string): string | null {
  const value = object[key];
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new ResponseShapeError(where, key, "a string or null", value);
  return value;
}

export function flag(object: Json, key: string, where: string): boolean {
  const value = object[key];
  if (typeof value !== "boolean") throw new ResponseShapeError(where, key, "a boolean", value);
  return value;
}

export function date(object: Json, key: string, where: string): Date {
  const value = text(object, key, where);
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new ResponseShapeError(where, key, "an ISO 8601 date", value);
  return new Date(time);
}

export function strings(object: Json, key: string, where: string): string[] {
  return list(object[key], where, key).map((item) => {
    if (typeof item !== "string") throw new ResponseShapeError(where, `${key}[]`, "a string", item);
    return item;
  });
}
