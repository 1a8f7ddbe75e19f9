import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster } from "./cluster.ts";
import type { Daemon } from "./daemon.ts";
import { importBusyboxImage, startDockerd } from "./docker.ts";
import { startJanitor } from "./janitor.ts";
import { prepareParts } from "./parts.ts";
import { startProxy } from "./proxy.ts";
import type { TestEnv } from "./types.ts";

export interface StartedTestEnv {
  env: TestEnv;
  stop(): Promise<void>;
  /** Stops kube-apiserver and starts it again on the same port and etcd (RunningCluster.restartApiserver). */
  restartApiserver(): Promise<void>;
}

/**
 * Prepares the parts (building what is missing when `install`), then starts etcd, kube-apiserver,
 * kube-scheduler, kube-controller-manager and dockerd under one temp dir. `stop()` stops them all and removes the dir.
 */
export async function startTestEnv({ install }: { install: boolean }): Promise<StartedTestEnv> {
  const parts = await prepareParts({ install });
  const runDir = await mkdtemp(join(process.env.DIND_K8S_RUN_DIR ?? tmpdir(), "dind-k8s-testenv-"));
  const keepDir = Boolean(process.env.DIND_K8S_KEEP_RUN_DIR);
  const janitor = startJanitor(runDir, { keepDir });
  const daemons: Pick<Daemon, "stop">[] = [];
  const stop = async () => {
    // Reverse start order: dockerd first, then the apiserver, then etcd.
    for (const daemon of daemons.reverse()) await daemon.stop();
    if (keepDir) {
      process.stderr.write(`testenv: kept ${runDir}\n`);
    } else {
      await rm(runDir, { recursive: true, force: true, maxRetries: 3 });
    }
    await janitor.stop();
  };
  try {
    const [cluster, docker, proxy] = await Promise.all([
      startCluster(
        {
          etcd: parts.etcd,
          kubeApiserver: parts["kube-apiserver"],
          kubeScheduler: parts["kube-scheduler"],
          kubeControllerManager: parts["kube-controller-manager"],
          kwok: parts.kwok,
        },
        runDir,
      ).then((started) => {
        daemons.push(...started.daemons);
        return started;
      }),
      startDockerd(parts.dockerd, runDir, janitor).then((started) => {
        daemons.push({ stop: started.stop });
        return started;
      }),
      startProxy(parts.tinyproxy, runDir).then((started) => {
        daemons.push(started.daemon);
        return started;
      }),
    ]);
    const busyboxImage = await importBusyboxImage(parts.busybox, docker.socketPath, runDir);
    const env: TestEnv = {
      runDir,
      parts,
      kube: {
        server: cluster.server,
        caPem: cluster.caPem,
        adminToken: cluster.adminToken,
        adminClientCert: cluster.adminClientCert,
        adminKubeconfigPath: cluster.adminKubeconfigPath,
        version: cluster.version,
      },
      docker: { host: `unix://${docker.socketPath}`, socketPath: docker.socketPath, busyboxImage },
      proxy: { url: proxy.url, logFile: proxy.logFile },
    };
    return { env, stop, restartApiserver: () => cluster.restartApiserver() };
  } catch (error: unknown) {
    await stop();
    throw error;
  }
}
