import { readFile } from "node:fs/promises";
import type { NetworkInspect } from "../docker/types.ts";

/** The Pod's interface as the runner container sees it; it shares the Pod's network namespace with dind. */
export const POD_INTERFACE_MTU_PATH = "/sys/class/net/eth0/mtu";
const DOCKER_DEFAULT_MTU = 1500;

/** A warning annotation: the title names the problem, the message says what it does and the fix. */
export interface Warning {
  title: string;
  message: string;
}

export function storageDriverWarning(driver: string): Warning | undefined {
  if (driver !== "vfs") return undefined;
  const message = [
    "The Docker daemon uses the vfs storage driver: every layer is a full copy, so builds and pulls are slow and use",
    "much more disk. This happens when /var/lib/docker is not on a real volume (overlay on overlay is refused).",
    "Fix: mount an emptyDir (or an ephemeral volume) at /var/lib/docker in the dind container.",
  ].join(" ");
  return { title: "dind-setup: slow storage driver (vfs)", message };
}

/** The MTU containers on the default bridge get: the network's option, else Docker's default. */
export function bridgeMtu(network: NetworkInspect): number {
  const value = Number(network.Options?.["com.docker.network.driver.mtu"]);
  return Number.isInteger(value) && value > 0 ? value : DOCKER_DEFAULT_MTU;
}

export function mtuWarning(bridge: number, podInterface: number | undefined): Warning | undefined {
  if (podInterface === undefined || bridge <= podInterface) return undefined;
  const message = [
    `The Docker bridge MTU (${bridge}) is larger than the Pod's eth0 MTU (${podInterface}): large packets from`,
    "containers get dropped, which shows up as TLS handshakes or downloads that hang.",
    `Fix: start dockerd with --mtu=${podInterface} --default-network-opt=bridge=com.docker.network.driver.mtu=${podInterface}`,
    "(the second flag covers networks compose creates).",
  ].join(" ");
  return { title: "dind-setup: bridge MTU larger than the Pod's", message };
}

/** undefined when the file is missing or unreadable (not on Linux, no eth0): then there is nothing to compare. */
export async function readInterfaceMtu(path: string): Promise<number | undefined> {
  try {
    const value = Number((await readFile(path, "utf8")).trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
