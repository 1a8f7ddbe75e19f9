// The test environment must never leave a process behind, even when the test run is killed.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const here = import.meta.dirname;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe("Daemon", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("stops the daemon when the process that started it is killed with SIGKILL", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dind-k8s-daemon-"));
    dirs.push(dir);
    const pidFile = join(dir, "sleep.pid");
    // A Node process that starts a daemon (a shell writing its pid, then sleeping) and then hangs.
    const script = `
      import { Daemon } from ${JSON.stringify(join(here, "../env/daemon.ts"))};
      Daemon.start("sleeper", "sh", ["-c", "echo $$ > ${pidFile}; exec sleep 600"], ${JSON.stringify(join(dir, "log"))});
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "ignore" });
    expect(
      await eventually(async () => (await readFile(pidFile, "utf8").catch(() => "")).trim() !== ""),
    ).toBe(true);
    const daemonPid = Number((await readFile(pidFile, "utf8")).trim());
    expect(alive(daemonPid)).toBe(true);

    parent.kill("SIGKILL");
    expect(await eventually(() => !alive(daemonPid))).toBe(true);
  });
});
