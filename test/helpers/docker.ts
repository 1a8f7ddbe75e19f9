import { execFile } from "node:child_process";
import type { TestEnv } from "../env/types.ts";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI against the run's own dockerd; never throws on a non-zero exit. */
export function docker(
  env: TestEnv,
  args: readonly string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      "docker",
      args,
      { env: { ...process.env, DOCKER_HOST: env.docker.host, ...extraEnv }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(error);
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
  });
}
