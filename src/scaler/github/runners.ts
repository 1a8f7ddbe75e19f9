/** Self-hosted runners of the target: JIT registration, deregistration, the list, and runner group ids. */
import { GitHubApiError } from "./errors.ts";
import { deleteOutcomeFor } from "./outcomes.ts";
import { jitConfigShape, read, runnerGroupsPageShape, runnersPageShape } from "./shapes.ts";
import { targetName, targetPath } from "./target.ts";
import type { Transport } from "./transport.ts";
import type {
  GitHubApi,
  GitHubLog,
  GitHubTarget,
  JitConfig,
  JitConfigRequest,
  RegisteredRunner,
} from "./types.ts";

const DEFAULT_GROUP_ID = 1;

export type Runners = Pick<GitHubApi, "generateJitConfig" | "deleteRunner" | "listRunners" | "runnerGroupId">;

export function createRunners({
  transport,
  target,
  log,
}: {
  transport: Transport;
  target: GitHubTarget;
  log: GitHubLog;
}): Runners {
  const runnersPath = `${targetPath(target)}/actions/runners`;
  const jitPath = `${runnersPath}/generate-jitconfig`;

  async function registerJitRunner(request: JitConfigRequest): Promise<JitConfig> {
    const reply = await transport.call("POST", jitPath, {
      name: request.name,
      runner_group_id: request.runnerGroupId,
      labels: request.labels,
      work_folder: request.workFolder,
    });
    const body = read(jitConfigShape, reply.data, `POST ${jitPath}`);
    return {
      runnerId: body.runner.id,
      runnerName: body.runner.name,
      encodedJitConfig: body.encoded_jit_config,
    };
  }

  async function deleteRunner(runnerId: number) {
    try {
      const reply = await transport.call("DELETE", `${runnersPath}/${runnerId}`);
      return deleteOutcomeFor(reply.status) ?? "deleted";
    } catch (error) {
      const outcome = error instanceof GitHubApiError ? deleteOutcomeFor(error.status) : undefined;
      if (outcome) return outcome;
      throw error;
    }
  }

  async function runnerNamed(name: string): Promise<RegisteredRunner | undefined> {
    const reply = await transport.call("GET", runnersPath, { name });
    const { runners } = read(runnersPageShape, reply.data, `GET ${runnersPath}`);
    return runners.find((runner) => runner.name === name);
  }

  async function lookupGroup(name: string): Promise<number> {
    const path = `${targetPath(target)}/actions/runner-groups`;
    const groups = await transport.paginate(path, {}, runnerGroupsPageShape, (page) => page.runner_groups);
    const wanted = name.toLowerCase();
    const found = groups.find((group) => group.name.toLowerCase() === wanted);
    if (found) return found.id;
    const names = groups.map((group) => group.name);
    throw new Error(
      `GitHub runner group "${name}" does not exist in ${target.kind === "org" ? targetName(target) : "the repository"}; it has: ${names.join(", ") || "(none)"}`,
    );
  }

  const groupIds = new Map<string, Promise<number>>();

  return {
    async generateJitConfig(request) {
      try {
        return await registerJitRunner(request);
      } catch (error) {
        if (!(error instanceof GitHubApiError && error.status === 409)) throw error;
      }
      // A runner with this name is registered already. Names are deterministic per Pod, so it is an earlier
      // registration whose JIT config was lost (the scaler died before storing it, or a timed-out request that
      // did succeed). Nobody can start it, so replace it — unless it is running a job.
      const stale = await runnerNamed(request.name);
      if (stale) {
        const outcome = stale.busy ? "busy" : await deleteRunner(stale.id);
        if (outcome === "busy") {
          throw new GitHubApiError(
            "POST",
            jitPath,
            409,
            `runner "${request.name}" (id ${stale.id}) is already registered and running a job`,
            "Another Pod holds this runner's configuration; it is not replaced",
          );
        }
        log.warn(
          `GitHub runner "${request.name}" (id ${stale.id}) was registered without a stored config; replaced it`,
        );
      }
      return registerJitRunner(request);
    },

    deleteRunner,

    listRunners: () => transport.paginate(runnersPath, {}, runnersPageShape, (page) => page.runners),

    async runnerGroupId(name) {
      if (name === undefined || target.kind === "repo") return DEFAULT_GROUP_ID;
      const key = name.toLowerCase();
      let id = groupIds.get(key);
      if (!id) {
        id = lookupGroup(name);
        groupIds.set(key, id);
        // A failed lookup is not cached: the group may be created, or the failure transient.
        id.catch(() => groupIds.delete(key));
      }
      return id;
    },
  };
}
