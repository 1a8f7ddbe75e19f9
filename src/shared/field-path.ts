/** Where in a JSON value a problem is, as a reader writes it: `workflow_job.labels[2]`; "" for the value itself. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let name = "";
  for (const segment of path) {
    if (typeof segment === "number") name += `[${segment}]`;
    else name += name === "" ? String(segment) : `.${String(segment)}`;
  }
  return name;
}
