import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, symlink } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { Daemon } from "./daemon.ts";
import { waitUntil } from "./net.ts";

const execFileAsync = promisify(execFile);

export const BUSYBOX_IMAGE = "dind-k8s-test/busybox:latest";

/** GET a path of a Docker daemon over its unix socket. */
export function dockerGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Starts the run's own dockerd: private socket, data root and exec root under the run dir, so it
 * never touches a daemon the machine may already run (it shares the default docker0 bridge name).
 */
export async function startDockerd(
  dockerd: string,
  runDir: string,
): Promise<{ daemon: Daemon; socketPath: string }> {
  const root = join(runDir, "docker");
  await mkdir(root, { recursive: true });
  const socketPath = join(root, "docker.sock");
  const logFile = join(runDir, "dockerd.log");
  const daemon = Daemon.start(
    "dockerd",
    dockerd,
    [
      `--host=unix://${socketPath}`,
      `--data-root=${join(root, "data")}`,
      `--exec-root=${join(root, "exec")}`,
      `--pidfile=${join(root, "docker.pid")}`,
      "--storage-driver=overlay2",
    ],
    logFile,
  );
  await waitUntil(
    "dockerd",
    async () => {
      const { status, body } = await dockerGet(socketPath, "/_ping");
      return status === 200 && body === "OK";
    },
    { timeoutMs: 60_000, exited: daemon.exited, logFile },
  );
  return { daemon, socketPath };
}

/**
 * No registry is reachable here, so the test image is made with `docker import` from a rootfs
 * holding Debian's static busybox and its applet links.
 */
export async function importBusyboxImage(
  busybox: string,
  socketPath: string,
  runDir: string,
): Promise<string> {
  const rootfs = join(runDir, "busybox-rootfs");
  await mkdir(join(rootfs, "bin"), { recursive: true });
  await mkdir(join(rootfs, "tmp"), { recursive: true });
  await copyFile(busybox, join(rootfs, "bin", "busybox"));
  await chmod(join(rootfs, "bin", "busybox"), 0o755);
  const { stdout } = await execFileAsync(join(rootfs, "bin", "busybox"), ["--list"]);
  for (const applet of stdout.split("\n").filter((name) => name && name !== "busybox")) {
    await symlink("busybox", join(rootfs, "bin", applet)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  }
  const tarball = join(runDir, "busybox-rootfs.tar");
  await execFileAsync("tar", ["-C", rootfs, "-cf", tarball, "."]);
  await execFileAsync("docker", ["import", "--change", 'CMD ["/bin/sh"]', tarball, BUSYBOX_IMAGE], {
    env: { ...process.env, DOCKER_HOST: `unix://${socketPath}` },
  });
  return BUSYBOX_IMAGE;
}
