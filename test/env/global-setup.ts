import type { TestProject } from "vitest/node";
import { type StartedTestEnv, startTestEnv } from "./start.ts";

let started: StartedTestEnv | undefined;

/**
 * vitest globalSetup of the integration project: one etcd + kube-apiserver + dockerd for the run.
 * A missing part fails the run with how to install it — in CI and locally alike; nothing skips.
 */
export async function setup(project: TestProject): Promise<void> {
  started = await startTestEnv({ install: true });
  project.provide("testenv", started.env);
  process.stderr.write(
    `testenv: kube-apiserver ${started.env.kube.version} at ${started.env.kube.server}, dockerd at ${started.env.docker.host}\n`,
  );
}

export async function teardown(): Promise<void> {
  await started?.stop();
}
