// The dind start script's cache report, with a stand-in dockerd (the real daemon runs in the integration tests):
// it must be written however dind is stopped, and say "clean" only when dockerd exited 0.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DIND_START_SCRIPT } from "../../../src/scaler/runner-pod/scripts.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dk8s-cache-script-"));
  await mkdir(join(dir, "data"));
  await writeFile(join(dir, "data", "layer"), Buffer.alloc(64 * 1024, 1));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in dockerd that runs until TERM and then exits with `exitOnTerm`. */
async function fakeDockerd(exitOnTerm: number) {
  await writeFile(
    join(dir, "dockerd"),
    `#!/bin/sh
if [ "$1" = --help ]; then exit 0; fi
echo started > "${dir}/started"
trap 'exit ${exitOnTerm}' TERM
while :; do sleep 0.05; done
`,
  );
  await chmod(join(dir, "dockerd"), 0o755);
}

function start(extraEnv: Record<string, string>) {
  const child = spawn("/bin/sh", ["-c", DIND_START_SCRIPT, "dind", "dockerd", "--host=unix:///x.sock"], {
    env: {
      PATH: `${dir}:/usr/bin:/bin`,
      DIND_K8S_ENTRYPOINT: "env",
      DIND_K8S_CACHE_VOLUME: "1",
      DIND_K8S_DATA_ROOT: join(dir, "data"),
      DIND_K8S_CACHE_PRUNE_ABOVE: String(1024 * 1024 * 1024),
      DIND_K8S_TERMINATION_LOG: join(dir, "report"),
      ...extraEnv,
    },
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { child, exited };
}

async function until(path: string) {
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 25));
}

describe("dind start script on a cache volume", () => {
  it("native sidecar: TERM stops dockerd; a clean exit is reported with the data size", async () => {
    await fakeDockerd(0);
    const { child, exited } = start({});
    await until(join(dir, "started"));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const report = JSON.parse(await readFile(join(dir, "report"), "utf8"));
    expect(report.clean).toBe(true);
    expect(report.dataBytes).toBeGreaterThanOrEqual(64 * 1024);
  });

  it("a dockerd that exits non-zero is reported unclean, and its status is the container's", async () => {
    await fakeDockerd(3);
    const { child, exited } = start({});
    await until(join(dir, "started"));
    child.kill("SIGTERM");
    expect(await exited).toBe(3);
    expect(JSON.parse(await readFile(join(dir, "report"), "utf8")).clean).toBe(false);
  });

  it("legacy mode: the stop file stops dockerd, the report is written, and dind exits 0", async () => {
    await fakeDockerd(0);
    const stopFile = join(dir, "runner-exited");
    const { exited } = start({ DIND_K8S_STOP_FILE: stopFile });
    await until(join(dir, "started"));
    await writeFile(stopFile, "");
    expect(await exited).toBe(0);
    expect(JSON.parse(await readFile(join(dir, "report"), "utf8")).clean).toBe(true);
  });

  it("below the watermark and without a check, no maintenance daemon runs first", async () => {
    await fakeDockerd(0);
    const { child, exited } = start({});
    await until(join(dir, "started"));
    child.kill("SIGTERM");
    await exited;
    // The stand-in records each start by overwriting one file; a maintenance run would need `docker`, which is
    // not on this PATH, and would have emptied the data root when it "failed".
    expect(existsSync(join(dir, "data", "layer"))).toBe(true);
  });
});
