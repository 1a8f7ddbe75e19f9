// Where in a parsed value a problem is, as a reader writes it: `workflow_job.labels[2]`, `runnerSets[0].dind`,
// `env["MY VAR"]`. The one formatting of a field path for config problems and for GitHub payload and response
// errors.

/** The path as a reader writes it; "" for the value itself. Keys that aren't identifiers are quoted. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let name = "";
  for (const segment of path) {
    if (typeof segment === "number") name += `[${segment}]`;
    else {
      const key = String(segment);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) name += name === "" ? key : `.${key}`;
      else name += `[${JSON.stringify(key)}]`;
    }
  }
  return name;
}
