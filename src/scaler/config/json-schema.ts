// The configuration file's shape as JSON Schema (draft-07), from the same zod schema the validator uses: for
// editors (yaml-language-server) and for the chart's values.schema.json, whose github/kubernetes/runnerSets parts
// scripts/gen-schema.ts derives from the same source.
import { z } from "zod";
import { configSchema } from "./schema.ts";

export function configJsonSchema(): Record<string, unknown> {
  // draft-07: what every Helm 3 release validates. "input": keys with defaults are optional, as users write them.
  return z.toJSONSchema(configSchema, {
    target: "draft-07",
    io: "input",
    unrepresentable: "throw",
  }) as Record<string, unknown>;
}
