// The shell the Pod's containers run, executed with sh and stand-in programs for dockerd and the runner.
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DIND_START_SCRIPT, RUNNER_LEGACY_SCRIPT } from "../../../src/scaler/runner-pod/scripts.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dk8s-scripts-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in dockerd: `--help` lists (or not) --default-network-opt; otherwise records its argv. */
async function fakeDockerd({ modern }: { modern: boolean }) {
  const help = modern ? "--mtu int\n      --default-network-opt mapmap" : "--mtu int";
  await writeFile(
    join(dir, "dockerd"),
    `#!/bin/sh
if [ "$1" = --help ]; then printf '%s\\n' '${help}'; exit 0; fi
printf '%s\\n' "$@" > "${dir}/argv"
trap 'echo term > "${dir}/got-term"; exit 0' TERM
if [ -n "\${FAKE_STAY:-}" ]; then while :; do sleep 0.1; done; fi
`,
  );
  await chmod(join(dir, "dockerd"), 0o755);
}

function run(script: string, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(
      "/bin/sh",
      ["-c", script, "test", ...args],
      { env: { PATH: `${dir}:/usr/bin:/bin`, DIND_K8S_ENTRYPOINT: "env", ...env }, timeout: 20_000 },
      (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stderr });
      },
    );
  });
}

const argv = () => readFileSync(join(dir, "argv"), "utf8").trim().split("\n");
const eth0 = existsSync("/sys/class/net/eth0/mtu")
  ? readFileSync("/sys/class/net/eth0/mtu", "utf8").trim()
  : "";

describe("dind start script", () => {
  it("auto MTU: eth0's MTU as --mtu and as the default network option when dockerd knows it", async () => {
    await fakeDockerd({ modern: true });
    const { code, stderr } = await run(DIND_START_SCRIPT, ["dockerd", "--host=unix:///x.sock"], {
      DIND_K8S_MTU: "auto",
    });
    expect(code).toBe(0);
    if (eth0 === "") {
      expect(argv()).toEqual(["--host=unix:///x.sock"]);
      expect(stderr).toContain("no eth0 MTU to read");
    } else {
      expect(argv()).toEqual([
        "--host=unix:///x.sock",
        `--mtu=${eth0}`,
        `--default-network-opt=bridge=com.docker.network.driver.mtu=${eth0}`,
      ]);
    }
  });

  it("a fixed MTU; an older dockerd (< 24) gets --mtu only and a warning instead of a failed start", async () => {
    await fakeDockerd({ modern: false });
    const { code, stderr } = await run(DIND_START_SCRIPT, ["dockerd", "--group=123"], {
      DIND_K8S_MTU: "1380",
    });
    expect(code).toBe(0);
    expect(argv()).toEqual(["--group=123", "--mtu=1380"]);
    expect(stderr).toContain("this dockerd has no --default-network-opt (Docker < 24)");
    expect(stderr).toContain("dind-k8s: starting: dockerd --group=123 --mtu=1380");
  });

  it("refuses an MTU that isn't a number", async () => {
    await fakeDockerd({ modern: true });
    const { code, stderr } = await run(DIND_START_SCRIPT, ["dockerd"], { DIND_K8S_MTU: "12a" });
    expect(code).toBe(2);
    expect(stderr).toContain("MTU must be a number, got '12a'");
    expect(existsSync(join(dir, "argv"))).toBe(false);
  });

  it("legacy mode: stops dockerd with TERM and exits 0 when the stop file appears", async () => {
    await fakeDockerd({ modern: true });
    const stopFile = join(dir, "runner-exited");
    const child = spawn("/bin/sh", ["-c", DIND_START_SCRIPT, "test", "dockerd"], {
      env: {
        PATH: `${dir}:/usr/bin:/bin`,
        DIND_K8S_ENTRYPOINT: "env",
        DIND_K8S_STOP_FILE: stopFile,
        FAKE_STAY: "1",
      },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    for (let i = 0; i < 100 && !existsSync(join(dir, "argv")); i++)
      await new Promise((r) => setTimeout(r, 50));
    await writeFile(stopFile, "");
    expect(await exited).toBe(0);
    expect(await readFile(join(dir, "got-term"), "utf8")).toBe("term\n");
  });
});

describe("runner start script (legacy mode)", () => {
  async function fakeRunner(body: string) {
    await writeFile(join(dir, "run.sh"), `#!/bin/sh\n${body}\n`);
    await chmod(join(dir, "run.sh"), 0o755);
  }

  it("runs the runner, keeps its exit code, and touches the stop file", async () => {
    await fakeRunner("exit 3");
    const stopFile = join(dir, "runner-exited");
    const { code, stderr } = await run(RUNNER_LEGACY_SCRIPT, [join(dir, "run.sh")], {
      DIND_K8S_STOP_FILE: stopFile,
      DOCKER_HOST: `unix://${dir}/docker.sock`,
      DIND_K8S_SOCKET_WAIT: "0",
    });
    expect(code).toBe(3);
    expect(existsSync(stopFile)).toBe(true);
    expect(stderr).toContain(`no Docker socket at ${dir}/docker.sock after 0s`);
  });

  it("passes TERM to the runner and still touches the stop file", async () => {
    await fakeRunner(`trap 'echo term > "${dir}/runner-term"; exit 0' TERM\nwhile :; do sleep 0.1; done`);
    const stopFile = join(dir, "runner-exited");
    const child = spawn("/bin/sh", ["-c", RUNNER_LEGACY_SCRIPT, "test", join(dir, "run.sh")], {
      env: {
        PATH: "/usr/bin:/bin",
        DIND_K8S_STOP_FILE: stopFile,
        DOCKER_HOST: "unix:///nonexistent",
        DIND_K8S_SOCKET_WAIT: "0",
      },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    await new Promise((r) => setTimeout(r, 500));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(await readFile(join(dir, "runner-term"), "utf8")).toBe("term\n");
    expect(existsSync(stopFile)).toBe(true);
  });
});
