import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type { Endpoint } from "../docker/endpoint.ts";

/** Quotes one field of the CSV value `--docker` takes, so paths with commas or quotes survive. */
function csvField(field: string): string {
  return /[",\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}

/**
 * Arguments for `docker context create|update NAME`. The TLS files go into the context itself because
 * buildx ignores DOCKER_TLS_VERIFY/DOCKER_CERT_PATH and only uses TLS configured on a context.
 */
export function dockerContextArgs(verb: "create" | "update", name: string, endpoint: Endpoint): string[] {
  const fields = [`host=${endpoint.url}`];
  if (endpoint.kind === "tcp" && endpoint.tls) {
    const dir = endpoint.tls.certDir;
    fields.push(`ca=${join(dir, "ca.pem")}`, `cert=${join(dir, "cert.pem")}`, `key=${join(dir, "key.pem")}`);
    fields.push(`skip-tls-verify=${endpoint.tls.verify ? "false" : "true"}`);
  }
  return [
    "context",
    verb,
    name,
    "--description",
    "Docker daemon of this job (created by dind-setup)",
    "--docker",
    fields.map(csvField).join(","),
  ];
}

export async function findOnPath(name: string, path: string | undefined): Promise<string | undefined> {
  for (const dir of (path ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

async function runDocker(
  docker: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ok: boolean; output: string }> {
  // Loaded only when a context is asked for: node:child_process adds to every step's start-up otherwise.
  const { execFile } = await import("node:child_process");
  return await new Promise((resolve) => {
    execFile(docker, args, { env, timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}`.trim() || String(error?.message ?? "") });
    });
  });
}

/** Creates the context, or updates it when a context of that name exists (e.g. a re-run on a reused runner). */
export async function createDockerContext(
  docker: string,
  name: string,
  endpoint: Endpoint,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const created = await runDocker(docker, dockerContextArgs("create", name, endpoint), env);
  if (created.ok) return;
  if (/already exists/i.test(created.output)) {
    const updated = await runDocker(docker, dockerContextArgs("update", name, endpoint), env);
    if (updated.ok) return;
    throw new Error(`docker context update ${name} failed: ${updated.output}`);
  }
  throw new Error(`docker context create ${name} failed: ${created.output}`);
}
