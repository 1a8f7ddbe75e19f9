// The apiserver's version, as /version reports it (the sidecar mode follows it: model/sidecar-mode.ts).
import { VersionApi } from "@kubernetes/client-node";
import type { ServerVersion } from "../model/sidecar-mode.ts";
import type { KubeClient } from "./client.ts";

export async function serverVersion(kube: KubeClient): Promise<ServerVersion> {
  const info = await kube.api(VersionApi).getCode();
  return { major: info.major, minor: info.minor };
}
