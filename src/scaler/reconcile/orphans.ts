// Registered runners without a Pod: a release that registered and then lost its Pod, or a Pod deleted by hand.
// A runner is deregistered when two sweeps in a row find it idle, ours and Pod-less (one sweep could race a
// release that registered the runner and hasn't written its Pod yet).
import type { RunnerSet } from "../config/load.ts";
import type { RunnerPods } from "../kube/runner-pods.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { RunnerRegistry } from "./runner-registry.ts";

export interface OrphanSweepOptions {
  runnerSets: readonly RunnerSet[];
  pods: RunnerPods;
  github: RunnerRegistry;
  log: Logger;
  metrics: Metrics;
}

export class OrphanSweep {
  readonly #options: OrphanSweepOptions;
  /** Runner names seen without a Pod in the previous sweep: deregistered when seen twice. */
  #candidates = new Set<string>();

  constructor(options: OrphanSweepOptions) {
    this.#options = options;
  }

  async sweep(): Promise<void> {
    const { github, pods, runnerSets, log, metrics } = this.#options;
    const runners = await github.listRunners();
    metrics.githubCalls.inc({ operation: "list-runners" });
    const candidates = new Set<string>();
    for (const runner of runners) {
      const ours = runnerSets.some(
        (set) =>
          runner.name.startsWith(`${set.name}-`) &&
          set.labels.every((label) => runner.labels.includes(label)),
      );
      if (!ours || pods.cachedPod(runner.name) || runner.busy) continue;
      if (this.#candidates.has(runner.name)) {
        const outcome = await github.deleteRunner(runner.id);
        metrics.githubCalls.inc({ operation: "delete-runner" });
        log.info("orphan runner deregistered", { runner: runner.name, runnerId: runner.id, outcome });
      } else {
        candidates.add(runner.name);
      }
    }
    this.#candidates = candidates;
  }
}
