import * as core from "@actions/core";
import { DockerClient } from "../docker/client.ts";
import { parseEndpoint } from "../docker/endpoint.ts";
import { DIND_CLIENT_CERT_DIR } from "./candidates.ts";
import { formatDiagnostics } from "./diagnostics.ts";
import { currentJob } from "./job.ts";
import { readSetupState } from "./state.ts";

/** /system/df walks the graph storage; give it time, but never hold the job long. */
const POST_TIMEOUT_MS = 10_000;

/** The post step. It only reports: whatever happens, it never fails the job. */
export async function diagnose(): Promise<void> {
  try {
    const state = readSetupState();
    if (state === undefined) {
      core.info("dind-setup: the main step did not find a Docker daemon, so there is nothing to report.");
      return;
    }
    const endpoint = parseEndpoint(state.dockerHost, {
      tls: state.certDir === undefined ? undefined : { certDir: state.certDir, verify: state.tlsVerify },
      defaultCertDir: DIND_CLIENT_CERT_DIR,
    });
    const client = new DockerClient(endpoint);
    const options = { timeoutMs: POST_TIMEOUT_MS };
    const asError = (error: unknown) => (error instanceof Error ? error : new Error(String(error)));
    const [containers, df] = await Promise.all([
      client.runningContainers(options).catch(asError),
      client.systemDf(options).catch(asError),
    ]);
    const [heading = "", ...details] = formatDiagnostics(endpoint.url, containers, df, currentJob().words);
    // The heading names the daemon and the job; the details fold under it in the log.
    core.startGroup(heading);
    for (const line of details) core.info(line);
    core.endGroup();
  } catch (error) {
    core.info(`dind-setup: diagnostics skipped (${error instanceof Error ? error.message : String(error)})`);
  }
}
