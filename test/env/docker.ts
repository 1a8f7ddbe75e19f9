import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { chmod, copyFile, mkdir, symlink } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { Daemon } from "./daemon.ts";
import type { Janitor } from "./janitor.ts";
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

async function run(command: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(command, args);
  return stdout;
}

/**
 * The run's own bridge: two daemons sharing docker0 (another test run, a test's own dockerd, the
 * machine's daemon) break each other's networking when one of them goes away.
 */
async function createBridge(): Promise<{ name: string; remove(): Promise<void> }> {
  const name = `dk8s-${randomBytes(3).toString("hex")}`;
  const subnet = 200 + randomInt(50);
  await run("ip", ["link", "add", name, "type", "bridge"]);
  await run("ip", ["addr", "add", `172.31.${subnet}.1/24`, "dev", name]);
  await run("ip", ["link", "set", name, "up"]);
  return {
    name,
    async remove() {
      await run("ip", ["link", "del", name]).catch(() => "");
      // dockerd leaves its NAT and forwarding rules for the bridge behind; take them out too.
      for (const table of ["filter", "nat"]) {
        const rules = (await run("iptables", ["-t", table, "-S"]).catch(() => "")).split("\n");
        for (const rule of rules.filter((line) => line.startsWith("-A ") && line.includes(name))) {
          const args = rule.replace(/^-A /, "-D ").match(/"[^"]*"|\S+/g) ?? [];
          await run("iptables", ["-t", table, ...args.map((arg) => arg.replace(/^"|"$/g, ""))]).catch(
            () => "",
          );
        }
      }
    },
  };
}

/**
 * Starts the run's own dockerd: private socket, data root, exec root and bridge, so it never touches a
 * daemon the machine may already run. `stop()` stops it and removes its bridge and firewall rules.
 */
export async function startDockerd(
  dockerd: string,
  runDir: string,
  janitor?: Pick<Janitor, "addBridge">,
): Promise<{ daemon: Daemon; socketPath: string; stop(): Promise<void> }> {
  const root = join(runDir, "docker");
  await mkdir(root, { recursive: true });
  const socketPath = join(root, "docker.sock");
  const logFile = join(runDir, "dockerd.log");
  const bridge = await createBridge();
  janitor?.addBridge(bridge.name);
  const daemon = Daemon.start(
    "dockerd",
    dockerd,
    [
      `--host=unix://${socketPath}`,
      `--data-root=${join(root, "data")}`,
      `--exec-root=${join(root, "exec")}`,
      `--pidfile=${join(root, "docker.pid")}`,
      `--bridge=${bridge.name}`,
      "--storage-driver=overlay2",
    ],
    logFile,
  );
  const stop = async () => {
    await daemon.stop();
    await bridge.remove();
  };
  await waitUntil(
    "dockerd",
    async () => {
      const { status, body } = await dockerGet(socketPath, "/_ping");
      return status === 200 && body === "OK";
    },
    { timeoutMs: 60_000, exited: daemon.exited, logFile },
  ).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { daemon, socketPath, stop };
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
