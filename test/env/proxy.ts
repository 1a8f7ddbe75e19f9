import { mkdir, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { Daemon } from "./daemon.ts";
import { freePort, waitUntil } from "./net.ts";

export interface StartedProxy {
  /** http://127.0.0.1:<port>: an HTTP CONNECT proxy (tinyproxy) open to loopback clients only. */
  url: string;
  /** tinyproxy's log: one "Request (file descriptor N): CONNECT host:port" line per tunnel it opened. */
  logFile: string;
  daemon: Daemon;
}

/** The CONNECT tunnels tinyproxy has opened so far, by target ("127.0.0.1:6443"), from its log. */
export async function proxyTunnels(logFile: string): Promise<string[]> {
  const log = await readFile(logFile, "utf8").catch(() => "");
  return [...log.matchAll(/Request \(file descriptor \d+\): CONNECT (\S+) HTTP/g)].map((match) => match[1]!);
}

/** tinyproxy on a free loopback port, with its own configuration and log under the run's dir. */
export async function startProxy(tinyproxy: string, runDir: string): Promise<StartedProxy> {
  const dir = join(runDir, "tinyproxy");
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const logFile = join(dir, "tinyproxy.log");
  const configFile = join(dir, "tinyproxy.conf");
  await writeFile(
    configFile,
    [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Allow 127.0.0.1",
      // Long enough for a watch that sees nothing for a while.
      "Timeout 600",
      "MaxClients 100",
      // Connect level logs each CONNECT request: the tests count them.
      "LogLevel Connect",
      `LogFile "${logFile}"`,
      "",
    ].join("\n"),
  );
  // -d: stay in the foreground, so the guard holds it and stops it with the run.
  const daemon = Daemon.start("tinyproxy", tinyproxy, ["-d", "-c", configFile], join(dir, "stdout.log"));
  await waitUntil(
    "tinyproxy",
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      }),
    { timeoutMs: 10_000, exited: daemon.exited, logFile: join(dir, "stdout.log") },
  );
  return { url: `http://127.0.0.1:${port}`, logFile, daemon };
}
