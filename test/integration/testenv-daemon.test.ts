// The test environment must never leave a process behind, nor its run dir, bridge or firewall rules, even when the
// test run is killed.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
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

describe("a test environment cut short", () => {
  const execFileAsync = promisify(execFile);
  const bridgeOf = async (runDir: string) => {
    const { stdout } = await execFileAsync("ps", ["-eo", "args"]);
    const line = stdout.split("\n").find((args) => args.includes(`--data-root=${runDir}`));
    return /--bridge=(\S+)/.exec(line ?? "")?.[1];
  };
  const leftovers = async (runDir: string, bridge: string) => {
    const left: string[] = [];
    if (await stat(runDir).catch(() => undefined)) left.push(`the run dir ${runDir}`);
    if (
      await execFileAsync("ip", ["link", "show", bridge]).then(
        () => true,
        () => false,
      )
    ) {
      left.push(`the bridge ${bridge}`);
    }
    for (const table of ["filter", "nat"]) {
      const { stdout } = await execFileAsync("iptables", ["-t", table, "-S"]);
      for (const rule of stdout.split("\n").filter((line) => line.includes(bridge))) left.push(rule);
    }
    return left;
  };

  // SIGKILL of the Node process (the OOM killer, kill -9): no teardown at all, the guards and the janitor alone.
  // SIGINT to the whole process group, as a terminal's Ctrl-C sends it: the janitor gets it too and must outlive it.
  for (const signal of ["SIGKILL", "SIGINT"] as const) {
    it(`leaves no run dir, bridge or firewall rule behind when killed with ${signal}`, async () => {
      const parent = await mkdtemp(join(tmpdir(), "dind-k8s-cut-short-"));
      try {
        const cli = spawn(process.execPath, [join(here, "../env/cli.ts"), "--start"], {
          env: { ...process.env, DIND_K8S_RUN_DIR: parent },
          stdio: ["ignore", "pipe", "ignore"],
          detached: true,
        });
        let out = "";
        cli.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
        });
        // A second environment beside the suite's own: slow to start on a busy machine.
        await eventually(() => out.includes("kubernetes-version=") || cli.exitCode !== null, 240_000);
        expect(out, "the environment started").toContain("kubernetes-version=");
        const runDir = join(
          parent,
          (await readdir(parent)).find((name) => name.startsWith("dind-k8s-testenv-"))!,
        );
        const bridge = (await bridgeOf(join(runDir, "docker")))!;
        expect(bridge).toMatch(/^dk8s-/);
        expect(await leftovers(runDir, bridge)).toContain(`the bridge ${bridge}`);
        if (signal === "SIGINT") process.kill(-cli.pid!, signal);
        else cli.kill(signal);
        let left: string[] = [];
        expect(
          await eventually(async () => {
            left = await leftovers(runDir, bridge);
            return left.length === 0;
          }, 30_000),
          left.join("; "),
        ).toBe(true);
      } finally {
        await rm(parent, { recursive: true, force: true });
      }
    }, 300_000);
  }
});
