import * as core from "@actions/core";
import { DockerClient, type PingAnswer } from "../docker/client.ts";
import { describeEndpoint, type Endpoint } from "../docker/endpoint.ts";
import type { DockerInfo, DockerVersion } from "../docker/types.ts";
import { candidateEndpoints, DIND_CLIENT_CERT_DIR } from "./candidates.ts";
import { createDockerContext, findOnPath } from "./context.ts";
import { dockerEnvironment } from "./environment.ts";
import { readInputs } from "./inputs.ts";
import { currentJob } from "./job.ts";
import { saveSetupState } from "./state.ts";
import { addFailureSummary, addReadySummary, dataRootSpace, type JobSummary } from "./summary.ts";
import { formatFailure, waitForDaemon } from "./wait.ts";
import {
  bridgeMtu,
  mtuWarning,
  POD_INTERFACE_MTU_PATH,
  readInterfaceMtu,
  storageDriverWarning,
} from "./warnings.ts";

/** Requests after the daemon answered: it is up, so these are quick unless it is overloaded. */
const FACT_TIMEOUT_MS = 15_000;

export interface SetupOptions {
  env: NodeJS.ProcessEnv;
  defaultCertDir: string;
  podInterfaceMtuPath: string;
}

const defaults: SetupOptions = {
  env: process.env,
  defaultCertDir: DIND_CLIENT_CERT_DIR,
  podInterfaceMtuPath: POD_INTERFACE_MTU_PATH,
};

/**
 * The main step: find the daemon, wait for it, hand it to later steps. A failure fails the step with one error
 * annotation (exit code 1) and goes into the job summary too.
 */
export async function setup(options: SetupOptions = defaults): Promise<void> {
  try {
    await setupOrThrow(options);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    core.setFailed(message);
    await writeSummary(options, (summary) => addFailureSummary(summary, message, currentJob()));
  }
}

/**
 * Appends to the job summary. Runners provide GITHUB_STEP_SUMMARY since job summaries came (2022); without it
 * (an older runner, or the bundle run by hand) there is no summary, and that never fails the step.
 */
async function writeSummary(options: SetupOptions, add: (summary: JobSummary) => JobSummary): Promise<void> {
  if (!options.env.GITHUB_STEP_SUMMARY) {
    core.debug("No job summary: GITHUB_STEP_SUMMARY is not set.");
    return;
  }
  try {
    await add(core.summary).write();
  } catch (error) {
    core.summary.emptyBuffer();
    core.warning(`Job summary not written: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function setupOrThrow(options: SetupOptions): Promise<void> {
  const inputs = readInputs();
  const { endpoints, origin } = candidateEndpoints({
    input: inputs.dockerHost,
    env: options.env,
    defaultCertDir: options.defaultCertDir,
  });
  const pings = new Map<Endpoint, PingAnswer>();
  const infos = new Map<Endpoint, Promise<DockerInfo>>();
  // The group folds the progress lines; the outcome (ready line, warnings, the failure) is printed outside it.
  const waiting = `Waiting up to ${inputs.timeoutMs / 1000} s for the Docker daemon at ${endpoints.map(describeEndpoint).join(", ")} (from ${origin})`;
  const result = await core.group(waiting, () =>
    waitForDaemon(endpoints, {
      timeoutMs: inputs.timeoutMs,
      probe: async (endpoint, probeOptions) => {
        const client = new DockerClient(endpoint);
        // /info goes out with each /_ping: a starting daemon answers both from its accept queue at once,
        // instead of a second round trip (and, on a busy machine, a second wait for the CPU) after the ping.
        const infoAbort = new AbortController();
        const info = client.info({ timeoutMs: FACT_TIMEOUT_MS, signal: infoAbort.signal });
        info.catch(() => {}); // Reported where it is awaited, below.
        try {
          pings.set(endpoint, await client.ping(probeOptions));
          // Sent first, the /info request can reach the port a moment before the daemon listens on it and be
          // refused while the /_ping right after it is answered (seen in CI): a failed early /info is asked again.
          infos.set(
            endpoint,
            info.catch(() => client.info({ timeoutMs: FACT_TIMEOUT_MS })),
          );
        } catch (error) {
          infoAbort.abort();
          throw error;
        }
      },
      onProgress: (line) => core.info(line),
    }),
  );
  if (!result.ready) throw new Error(formatFailure(result.attempts, inputs.timeoutMs));
  const { endpoint } = result;
  if (endpoints.length > 1) core.info(`${endpoint.url} answered first of ${endpoints.length} candidates`);

  const client = new DockerClient(endpoint);
  const requestOptions = { timeoutMs: FACT_TIMEOUT_MS };
  const [info, bridge, podMtu] = await Promise.all([
    (infos.get(endpoint) ?? client.info(requestOptions)).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `The Docker daemon at ${endpoint.url} answered /_ping but then GET /info failed: ${reason}. Check the dind sidecar's logs: the daemon may have crashed right after starting.`,
        { cause: error },
      );
    }),
    // No default bridge (dockerd --bridge=none) is fine: then there is no MTU to compare.
    client.network("bridge", requestOptions).catch(() => undefined),
    readInterfaceMtu(options.podInterfaceMtuPath),
  ]);
  const version = await daemonVersion(client, pings.get(endpoint), info);

  for (const [name, value] of Object.entries(dockerEnvironment(endpoint, options.env))) {
    core.exportVariable(name, value);
  }
  const waitMs = Math.round(result.waitedMs);
  core.setOutput("docker-host", endpoint.url);
  core.setOutput("server-version", version.Version);
  core.setOutput("api-version", version.ApiVersion);
  core.setOutput("storage-driver", info.Driver);
  core.setOutput("wait-ms", String(waitMs));
  saveSetupState({
    dockerHost: endpoint.url,
    certDir: endpoint.kind === "tcp" ? endpoint.tls?.certDir : undefined,
    tlsVerify: endpoint.kind === "tcp" && endpoint.tls?.verify === true,
  });

  let contextName = "";
  if (inputs.context !== "") {
    const docker = await findOnPath("docker", options.env.PATH);
    if (docker === undefined) {
      core.warning(`Docker context "${inputs.context}" not created: the docker CLI is not on PATH.`, {
        title: "dind-setup: no docker context",
      });
    } else {
      await createDockerContext(docker, inputs.context, endpoint, options.env);
      contextName = inputs.context;
      core.info(`Created docker context "${contextName}" for ${endpoint.url}`);
    }
  }
  core.setOutput("context", contextName);

  const warnings = [
    storageDriverWarning(info.Driver),
    bridge ? mtuWarning(bridgeMtu(bridge), podMtu) : undefined,
  ].filter((warning) => warning !== undefined);
  for (const warning of warnings) core.warning(warning.message, { title: warning.title });

  const space = await dataRootSpace(info, endpoint);
  await writeSummary(options, (summary) =>
    addReadySummary(
      summary,
      { endpoint, version, info, waitedMs: waitMs, dataRootSpace: space },
      currentJob(),
    ),
  );
  core.info(
    `Docker ${version.Version} (API ${version.ApiVersion}, storage driver ${info.Driver}) is ready at ${endpoint.url} after ${waitMs} ms; DOCKER_HOST exported for the next steps`,
  );
}

/** Versions from /_ping's headers and /info; /version only for engines that send neither. */
async function daemonVersion(
  client: DockerClient,
  ping: PingAnswer | undefined,
  info: DockerInfo,
): Promise<DockerVersion> {
  const serverVersion = ping?.serverVersion ?? info.ServerVersion;
  if (ping?.apiVersion !== undefined && serverVersion !== undefined) {
    return { Version: serverVersion, ApiVersion: ping.apiVersion };
  }
  return await client.version({ timeoutMs: FACT_TIMEOUT_MS });
}
