// Writes the README's generated sections from their sources, so the docs can't drift:
//   config-reference  ← the configuration schema (src/scaler/config/schema.ts, via its JSON Schema)
//   metrics           ← the metrics the scaler registers (src/scaler/observe/metrics.ts)
//   rbac              ← the scaler's Role in the runner namespace (src/scaler/kube/rbac.ts, which the chart ships)
//   pod-templates     ← the worked runner Pod template examples (test/fixtures/templates/*.yaml, which tests load)
// `--check` exits 1 when README.md is out of date (a unit test runs it).
import { readdirSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createCacheMetrics } from "../src/scaler/cache/metrics.ts";
import { configJsonSchema } from "../src/scaler/config/json-schema.ts";
import { SCALER_ROLE_RULES } from "../src/scaler/kube/rbac.ts";
import { createMetrics } from "../src/scaler/observe/metrics.ts";
import { formatMarkdown } from "./generated.ts";

type Schema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  required?: string[];
  additionalProperties?: boolean | Schema;
};

const readme = join(import.meta.dirname, "..", "README.md");

function typeOf(schema: Schema): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(" \\| ");
  // An object with its own keys (and maybe rules between them, as oneOf of required keys) is an object.
  if (schema.properties) return "object";
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(" \\| ");
  if (schema.type === "array") return `list of ${schema.items ? typeOf(schema.items) : "values"}`;
  if (schema.type === "object" && !schema.properties) return "map";
  if (schema.type === "integer") {
    const min = schema.minimum ?? -Number.MAX_SAFE_INTEGER;
    const max = schema.maximum ?? Number.MAX_SAFE_INTEGER;
    const range =
      min <= -Number.MAX_SAFE_INTEGER && max >= Number.MAX_SAFE_INTEGER
        ? ""
        : max >= Number.MAX_SAFE_INTEGER
          ? ` ≥ ${min}`
          : ` ${min}–${max}`;
    return `whole number${range}`;
  }
  return Array.isArray(schema.type) ? schema.type.join(" \\| ") : (schema.type ?? "any");
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

function rows(schema: Schema, path: string, required: boolean, out: string[]): void {
  const defaultText = schema.default === undefined ? "" : `\`${JSON.stringify(schema.default)}\``;
  if (path) {
    out.push(
      `| \`${path}\` | ${typeOf(schema).replaceAll("|", "\\|").replaceAll("\\\\|", "\\|")} | ${required ? "yes" : ""} | ${defaultText} | ${cell(schema.description ?? "")} |`,
    );
  }
  if (schema.properties) {
    for (const [key, child] of Object.entries(schema.properties)) {
      rows(child, path ? `${path}.${key}` : key, schema.required?.includes(key) ?? false, out);
    }
  }
  if (schema.type === "array" && schema.items?.properties) rows(schema.items, `${path}[]`, false, out);
  // A choice of object shapes (storage profiles): one row per shape's own keys.
  for (const variant of schema.oneOf ?? []) {
    const tag = Object.entries(variant.properties ?? {}).find(([, child]) => child.const !== undefined);
    if (!tag) continue;
    for (const [key, child] of Object.entries(variant.properties ?? {})) {
      if (key === tag[0]) continue;
      rows(
        child,
        `${path}.${key} (${tag[0]}: ${JSON.stringify(tag[1].const)})`,
        variant.required?.includes(key) ?? false,
        out,
      );
    }
  }
}

export function configReference(): string {
  const out = ["| key | type | required | default | meaning |", "|---|---|---|---|---|"];
  rows(configJsonSchema() as Schema, "", true, out);
  return out.join("\n");
}

export async function metricsReference(): Promise<string> {
  // The scaler's own metrics; the standard process_* / nodejs_* ones are listed as a group below the table.
  const metrics = createMetrics({ processMetrics: false });
  createCacheMetrics(metrics.registry);
  const out = ["| metric | type | labels | meaning |", "|---|---|---|---|"];
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    // prom-client keeps the label names on the metric object, not in its JSON.
    const labels = (metrics.registry.getSingleMetric(metric.name) as { labelNames?: string[] } | undefined)
      ?.labelNames;
    out.push(`| \`${metric.name}\` | ${metric.type} | ${(labels ?? []).join(", ")} | ${cell(metric.help)} |`);
  }
  out.push(
    "| `process_*`, `nodejs_*` | | | the standard Node.js process metrics of prom-client: memory, CPU, event loop lag, GC |",
  );
  return out.join("\n");
}

/** Why the scaler holds each resource of its Role; a resource without a line here fails the generation. */
const ROLE_PURPOSES: Record<string, string> = {
  pods: "runner Pods are the durable record of a job: created at intake, watched by the informer, gates released with a patch, deleted when done",
  secrets: "one JIT config Secret per runner, owned by its Pod",
  persistentvolumeclaims:
    "the Docker cache pool of runner sets with `cache`: claims created, leased with annotations, recycled",
  events: "Warning Events on Pods replaced after being stuck Pending",
  "coordination.k8s.io/leases":
    "leader election of the reconciler (create can't be limited to a name; get and update are)",
};

export function rbacReference(): string {
  const out = ["| API group | resource | verbs | names | what for |", "|---|---|---|---|---|"];
  for (const rule of SCALER_ROLE_RULES) {
    for (const group of rule.apiGroups ?? [""]) {
      for (const resource of rule.resources ?? []) {
        const purpose = ROLE_PURPOSES[group ? `${group}/${resource}` : resource];
        if (purpose === undefined) {
          throw new Error(
            `gen-docs: the Role grants ${group || "core"}/${resource}; say why in ROLE_PURPOSES`,
          );
        }
        const names = rule.resourceNames?.map((name) => `\`${name}\``).join(", ") || "any";
        out.push(
          `| ${group ? `\`${group}\`` : "core"} | \`${resource}\` | ${(rule.verbs ?? []).join(", ")} | ${names} | ${cell(purpose)} |`,
        );
      }
    }
  }
  return out.join("\n");
}

const templateExamples = join(import.meta.dirname, "..", "test", "fixtures", "templates");

/**
 * The worked Pod template examples, from the fixture files the tests load (test/helpers/templates.ts): each file's
 * leading comment as its text, the rest as the runner set it is.
 */
export function podTemplateExamples(): string {
  const files = readdirSync(templateExamples)
    .filter((name) => name.endsWith(".yaml"))
    .sort();
  return files
    .map((name) => {
      const lines = readFileSync(join(templateExamples, name), "utf8").trimEnd().split("\n");
      const comment = lines.filter((line) => line.startsWith("#")).map((line) => line.replace(/^# ?/, ""));
      const set = lines.filter((line) => !line.startsWith("#")).map((line) => `  ${line}`);
      return [`\`${name}\`: ${comment.join(" ")}`, "", "```yaml", "runnerSets:", ...set, "```"].join("\n");
    })
    .join("\n\n");
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`. */
export function replaceSection(text: string, name: string, body: string): string {
  const start = `<!-- ${name}:start (generated by scripts/gen-docs.ts; do not edit) -->`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} section`);
  return `${text.slice(0, from + start.length)}\n\n${body}\n\n${text.slice(to)}`;
}

export async function renderReadme(current: string): Promise<string> {
  let text = replaceSection(current, "config-reference", configReference());
  text = replaceSection(text, "metrics", await metricsReference());
  text = replaceSection(text, "rbac", rbacReference());
  text = replaceSection(text, "pod-templates", podTemplateExamples());
  return formatMarkdown(text, readme);
}

if (import.meta.main) {
  const current = await readFile(readme, "utf8");
  const next = await renderReadme(current);
  if (process.argv.includes("--check")) {
    if (next !== current) {
      process.stderr.write("README.md's generated sections are out of date: run node scripts/gen-docs.ts\n");
      process.exit(1);
    }
    process.stdout.write("README.md is up to date\n");
  } else {
    await writeFile(readme, next);
    process.stdout.write("wrote README.md's generated sections\n");
  }
}
