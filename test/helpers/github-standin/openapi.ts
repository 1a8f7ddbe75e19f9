/**
 * GitHub's OpenAPI description (@octokit/openapi, dereferenced) as the stand-in's contract: route matching,
 * request and response validation with ajv, and completion of responses with the documented required fields.
 *
 * The description is OpenAPI 3.0: `nullable: true` is not JSON Schema, so schemas are converted before ajv sees
 * them (type → [type, "null"], or anyOf with null when there is no type). Loaded once per process, compiled lazily
 * per operation and status.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule, { type FormatsPlugin } from "ajv-formats";

export type Schema = { [key: string]: unknown };

export interface Operation {
  operationId: string;
  method: string;
  template: string;
  regex: RegExp;
  paramNames: string[];
  definition: Schema;
}

export interface RouteMatch {
  operation: Operation;
  params: Record<string, string>;
}

export type SpecName = "api.github.com" | "ghes-3.19";

interface LoadedSpec {
  operations: Operation[];
  /** Operations by method, segment count and first segment: a lookup scans a handful, not 1,200 regexes. */
  index: Map<string, Operation[]>;
  validators: Map<string, ValidateFunction>;
}

function routeKey(method: string, path: string): string {
  const segments = path.split("/");
  return `${method} ${segments.length} ${segments[1] ?? ""}`;
}

const specs = new Map<SpecName, LoadedSpec>();

// ajv-formats is CommonJS with a default export; under nodenext the callable sits on `.default`.
const addFormats: FormatsPlugin =
  (addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
  (addFormatsModule as unknown as FormatsPlugin);

const ajv = new Ajv({ strict: false, allErrors: true, logger: false, validateFormats: true });
addFormats(ajv);
for (const format of [
  "int32",
  "int64",
  "float",
  "double",
  "byte",
  "binary",
  "password",
  "repo.nwo",
  "ssh-key",
]) {
  ajv.addFormat(format, true);
}

function specPath(name: SpecName): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@octokit/openapi");
  return join(dirname(main), "generated", `${name}.deref.json`);
}

const METHODS = ["get", "put", "post", "patch", "delete", "head"];

export function loadSpec(name: SpecName = "api.github.com"): LoadedSpec {
  const cached = specs.get(name);
  if (cached) return cached;
  const document = JSON.parse(readFileSync(specPath(name), "utf8")) as { paths: Record<string, Schema> };
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    const paramNames: string[] = [];
    const pattern = template
      .split("/")
      .map((segment) => {
        const param = /^\{([^}]+)\}$/.exec(segment);
        if (param?.[1]) {
          paramNames.push(param[1]);
          return "([^/]+)";
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    for (const method of METHODS) {
      const definition = item[method] as Schema | undefined;
      if (!definition) continue;
      operations.push({
        operationId: String(definition.operationId),
        method: method.toUpperCase(),
        template,
        regex: new RegExp(`^${pattern}$`),
        paramNames,
        definition,
      });
    }
  }
  // Literal segments beat parameters: /runners/generate-jitconfig before /runners/{runner_id}.
  const literals = (template: string) => template.split("/").filter((s) => s && !s.startsWith("{")).length;
  operations.sort((a, b) => literals(b.template) - literals(a.template));
  const index = new Map<string, Operation[]>();
  for (const operation of operations) {
    const key = routeKey(operation.method, operation.template);
    index.set(key, [...(index.get(key) ?? []), operation]);
  }
  const loaded = { operations, index, validators: new Map<string, ValidateFunction>() };
  specs.set(name, loaded);
  return loaded;
}

export function matchRoute(spec: LoadedSpec, method: string, pathname: string): RouteMatch | undefined {
  for (const operation of spec.index.get(routeKey(method, pathname)) ?? []) {
    const match = operation.regex.exec(pathname);
    if (!match) continue;
    const params: Record<string, string> = {};
    operation.paramNames.forEach((name, index) => {
      params[name] = decodeURIComponent(match[index + 1] ?? "");
    });
    return { operation, params };
  }
  return undefined;
}

/** OpenAPI 3.0 schema → JSON Schema ajv understands. */
export function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "example" || key === "examples" || key === "description" || key === "nullable") continue;
    if (key === "properties" && typeof value === "object" && value !== null) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, toJsonSchema(sub)]),
      );
      continue;
    }
    out[key] = toJsonSchema(value);
  }
  if ((schema as Schema).nullable === true) {
    if (typeof out.type === "string") {
      out.type = [out.type, "null"];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
      return out;
    }
    return { anyOf: [{ type: "null" }, out] };
  }
  return out;
}

function compile(spec: LoadedSpec, key: string, schema: unknown): ValidateFunction {
  let validate = spec.validators.get(key);
  if (!validate) {
    validate = ajv.compile(toJsonSchema(schema) as Schema);
    spec.validators.set(key, validate);
  }
  return validate;
}

function errorsOf(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .slice(0, 5)
    .map((error) => `${error.instancePath || "/"} ${error.message ?? ""} ${JSON.stringify(error.params)}`)
    .join("; ");
}

function jsonSchemaOf(content: unknown): unknown {
  const json = (content as Record<string, { schema?: unknown }> | undefined)?.["application/json"];
  return json?.schema;
}

export function requestBodySchema(operation: Operation): unknown {
  const body = operation.definition.requestBody as { content?: unknown } | undefined;
  return body ? jsonSchemaOf(body.content) : undefined;
}

export function responseSchema(
  operation: Operation,
  status: number,
): { documented: boolean; schema?: unknown } {
  const responses = (operation.definition.responses ?? {}) as Record<string, { content?: unknown }>;
  const response = responses[String(status)];
  if (!response) return { documented: false };
  return { documented: true, schema: jsonSchemaOf(response.content) };
}

function searchSyntax(parameter: { description?: unknown }): boolean {
  return typeof parameter.description === "string" && /search syntax/i.test(parameter.description);
}

/** Problems with the request body and query, as text; empty when it matches the description. */
export function checkRequest(
  spec: LoadedSpec,
  operation: Operation,
  query: URLSearchParams,
  body: unknown,
  bodyText: string,
): string[] {
  const problems: string[] = [];
  const parameters = (operation.definition.parameters ?? []) as {
    name: string;
    in: string;
    required?: boolean;
    schema?: Schema;
    description?: string;
  }[];
  const queryParameters = new Map(parameters.filter((p) => p.in === "query").map((p) => [p.name, p]));
  for (const [name, value] of query) {
    const parameter = queryParameters.get(name);
    if (!parameter) {
      problems.push(`unknown query parameter "${name}"`);
      continue;
    }
    const type = parameter.schema?.type;
    const coerced =
      type === "integer" || type === "number"
        ? Number(value)
        : type === "boolean"
          ? value === "true"
            ? true
            : value === "false"
              ? false
              : value
          : value;
    const validate = compile(spec, `${operation.operationId} query ${name}`, parameter.schema ?? {});
    // Parameters described as taking GitHub's search syntax (`created=>=2026-01-01T00:00:00Z`, `a..b`) are typed
    // as a plain date-time in the description; check each bound without its qualifier.
    const values = searchSyntax(parameter) ? value.replace(/^[<>]=?/, "").split("..") : [coerced];
    if (!values.every((one) => validate(one))) {
      problems.push(`query parameter "${name}"=${JSON.stringify(value)}: ${errorsOf(validate)}`);
    }
  }
  for (const parameter of queryParameters.values()) {
    if (parameter.required && !query.has(parameter.name))
      problems.push(`missing query parameter "${parameter.name}"`);
  }
  const schema = requestBodySchema(operation);
  const required =
    (operation.definition.requestBody as { required?: boolean } | undefined)?.required === true;
  if (bodyText === "") {
    if (required) problems.push("missing request body");
  } else if (!schema) {
    problems.push("a request body where none is documented");
  } else if (body === undefined) {
    problems.push("request body is not JSON");
  } else {
    const validate = compile(spec, `${operation.operationId} request`, schema);
    if (!validate(body)) problems.push(`request body: ${errorsOf(validate)}`);
  }
  return problems;
}

export function checkResponse(
  spec: LoadedSpec,
  operation: Operation,
  status: number,
  body: unknown,
): string[] {
  const { documented, schema } = responseSchema(operation, status);
  if (!documented) {
    // GitHub answers errors the description leaves out (404 on delete, 5xx, rate limits) with a basic error body.
    if (
      status >= 400 &&
      typeof body === "object" &&
      body !== null &&
      typeof (body as Schema).message === "string"
    ) {
      return [];
    }
    return [`status ${status} is not documented for this operation`];
  }
  if (schema === undefined)
    return body === undefined ? [] : [`status ${status} documents no body but one was sent`];
  const validate = compile(spec, `${operation.operationId} ${status}`, schema);
  return validate(body) ? [] : [`response ${status}: ${errorsOf(validate)}`];
}

/**
 * `value` with every documented required field it lacks filled in from the schema, so handlers write the fields
 * that carry meaning and the rest (owner objects, *_url fields) still has the documented shape.
 */
export function complete(schema: unknown, value: unknown): unknown {
  if (typeof schema !== "object" || schema === null) return value;
  const s = schema as Schema;
  if (value === undefined) return synthesize(s);
  if (value === null) return null;
  if (Array.isArray(s.allOf))
    return s.allOf.reduce((current: unknown, part) => complete(part, current), value);
  const alternatives = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (Array.isArray(alternatives)) {
    const fitting = alternatives.find((alt) =>
      typeof value === "object" ? isObjectSchema(alt) : !isObjectSchema(alt),
    );
    return fitting ? complete(fitting, value) : value;
  }
  if (Array.isArray(value)) return s.items ? value.map((item) => complete(s.items, item)) : value;
  if (typeof value === "object" && isObjectSchema(s)) {
    const object = { ...(value as Schema) };
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    for (const name of (s.required ?? []) as string[]) {
      if (!(name in object)) object[name] = synthesize((properties[name] ?? {}) as Schema);
    }
    for (const [name, sub] of Object.entries(properties)) {
      if (name in object) object[name] = complete(sub, object[name]);
    }
    return object;
  }
  return value;
}

function isObjectSchema(schema: Schema): boolean {
  return schema.type === "object" || (schema.type === undefined && schema.properties !== undefined);
}

function synthesize(schema: Schema): unknown {
  if (schema.nullable === true) return null;
  if ("default" in schema) return schema.default;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (Array.isArray(schema.allOf)) return complete(schema, {});
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(alternatives) && alternatives[0]) return synthesize(alternatives[0]);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      switch (schema.format) {
        case "date-time":
          return new Date().toISOString();
        case "date":
          return new Date().toISOString().slice(0, 10);
        case "uri":
        case "url":
          return "https://github.standin.test/placeholder";
        case "email":
          return "octocat@example.com";
        case "uuid":
          return "00000000-0000-4000-8000-000000000000";
        default:
          return typeof schema.pattern === "string" ? "" : "placeholder";
      }
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : 1;
    case "boolean":
      return false;
    case "array":
      return [];
    case "null":
      return null;
    default:
      return isObjectSchema(schema) || type === "object" ? complete(schema, {}) : null;
  }
}
