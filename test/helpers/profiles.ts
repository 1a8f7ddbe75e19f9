// The profiles configuration fixture (test/fixtures/config/profiles.yaml: a runner set per runtime profile), and
// reading a built runner Pod by container, for the runner-pod unit tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { parseConfig, type RunnerSet } from "../../src/scaler/config/load.ts";

const fixture = join(import.meta.dirname, "../fixtures/config/profiles.yaml");
export const profilesConfig = parseConfig(readFileSync(fixture, "utf8"), fixture);

/** A runner set of the fixture, by name. */
export function profileSet(name: string): RunnerSet {
  const found = profilesConfig.runnerSets.find((s) => s.name === name);
  if (!found) throw new Error(`no set ${name} in the fixture`);
  return found;
}

/** A container of the Pod by name, init containers (the native dind sidecar) included. */
export function containerNamed(pod: V1Pod, name: string): V1Container {
  const found = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
    (c) => c.name === name,
  );
  if (!found) throw new Error(`no container ${name}`);
  return found;
}
