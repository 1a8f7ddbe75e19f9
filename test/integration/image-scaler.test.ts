// The Dockerfile, built with the run's dockerd (docker.io 20.10, classic builder). That daemon can't pull
// node:24-slim, so the test makes an equivalent base from the Node 24 binary the repo already has
// (node_modules/node) plus the shared libraries it links, and passes it as NODE_IMAGE. Then the image must run
// `dind-k8s --help`, run as a non-root user, hold nothing beyond the base but the bundle, and validate the chart's
// configuration on a read-only root filesystem as the chart runs it.
import { execFile } from "node:child_process";
import { copyFile, mkdir, readdir, realpath, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { findObject, renderChart, VALUES_FIXTURES } from "../helpers/chart.ts";
import { docker } from "../helpers/docker.ts";

const env = inject("testenv");
const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const BASE = "dind-k8s-test/node-base:24";
const IMAGE = "dind-k8s-test/scaler:test";

/** Runs docker and fails the test with its output when it exits non-zero. */
async function mustDocker(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await docker(env, args, extraEnv);
  if (result.code !== 0)
    throw new Error(`docker ${args.join(" ")} → ${result.code}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** The files of a tar stream's listing, without the runtime's own mount points and files. */
async function exportedFiles(container: string): Promise<Set<string>> {
  const tar = join(env.runDir, `${container}.tar`);
  await mustDocker(["export", "--output", tar, container]);
  const { stdout } = await execFileAsync("tar", ["-tf", tar], { maxBuffer: 64 * 1024 * 1024 });
  await rm(tar);
  const runtime = /^(\.dockerenv|dev\/|proc\/|sys\/|etc\/(hosts|hostname|resolv\.conf|mtab)$|etc\/$)/;
  return new Set(
    stdout
      .split("\n")
      .map((line) => line.replace(/^\.\//, ""))
      .filter((line) => line !== "" && !runtime.test(line)),
  );
}

let baseFiles: Set<string>;

beforeAll(async () => {
  // A base like node:24-slim as far as the image cares: `node` on PATH and the libraries it links.
  const rootfs = join(env.runDir, "node-base-rootfs");
  await rm(rootfs, { recursive: true, force: true });
  const node = await realpath(join(root, "node_modules", "node", "bin", "node"));
  const { stdout: ldd } = await execFileAsync("ldd", [node]);
  const libraries = [...ldd.matchAll(/(\/\S+\.so[.\d]*)/g)].map((match) => match[1]!);
  for (const file of libraries) {
    await mkdir(join(rootfs, dirname(file)), { recursive: true });
    await copyFile(await realpath(file), join(rootfs, file));
  }
  await mkdir(join(rootfs, "usr/local/bin"), { recursive: true });
  await copyFile(node, join(rootfs, "usr/local/bin/node"));
  await mkdir(join(rootfs, "tmp"), { recursive: true, mode: 0o1777 });
  const tar = join(env.runDir, "node-base.tar");
  await execFileAsync("tar", ["-C", rootfs, "-cf", tar, "."]);
  await mustDocker(["import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin", tar, BASE]);
  await rm(tar);
  await rm(rootfs, { recursive: true, force: true });
  await mustDocker(["create", "--name", "dind-k8s-test-base", BASE, "node"]);
  baseFiles = await exportedFiles("dind-k8s-test-base");
  await mustDocker(["rm", "dind-k8s-test-base"]);

  // The classic builder, as docker.io 20.10 has it (no BuildKit needed).
  await mustDocker(["build", "--build-arg", `NODE_IMAGE=${BASE}`, "--tag", IMAGE, root], {
    DOCKER_BUILDKIT: "0",
  });
}, 240_000);

describe("the scaler image", () => {
  it("runs dind-k8s --help (the default command)", async () => {
    const result = await docker(env, ["run", "--rm", IMAGE]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: dind-k8s/);
    expect(result.stdout).toContain("check-config");
  });

  it("runs as uid/gid 65532 (not root), with node as the entrypoint", async () => {
    const [config] = JSON.parse(await mustDocker(["image", "inspect", IMAGE])) as {
      Config: { User: string; Entrypoint: string[]; Cmd: string[]; ExposedPorts: Record<string, unknown> };
    }[];
    expect(config!.Config.User).toBe("65532:65532");
    expect(config!.Config.Entrypoint).toEqual(["node", "/opt/dind-k8s/cli.js"]);
    expect(Object.keys(config!.Config.ExposedPorts)).toEqual(["8080/tcp"]);
    const ids = await mustDocker([
      "run",
      "--rm",
      "--entrypoint",
      "node",
      IMAGE,
      "-e",
      "console.log(process.getuid(), process.getgid())",
    ]);
    expect(ids.trim()).toBe("65532 65532");
  });

  it("adds exactly the bundle to its base", async () => {
    await mustDocker(["create", "--name", "dind-k8s-test-scaler", IMAGE]);
    const files = await exportedFiles("dind-k8s-test-scaler");
    await mustDocker(["rm", "dind-k8s-test-scaler"]);
    const added = [...files].filter((file) => !baseFiles.has(file)).sort();
    const bundle = (await readdir(join(root, "dist", "scaler"))).map((file) => `opt/dind-k8s/${file}`);
    expect(added).toEqual(["opt/", "opt/dind-k8s/", ...bundle].sort());
  });

  it("validates the chart's configuration as the chart runs it: read-only root, no capabilities, uid 65532", async () => {
    const objects = await renderChart(env, {
      release: "ci",
      namespace: "dind-k8s",
      files: [join(VALUES_FIXTURES, "profiles.yaml")],
    });
    const configMap = findObject<{ kind: string; data: Record<string, string> }>(objects, "ConfigMap");
    const dir = join(env.runDir, "image-config");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "config.yaml"), configMap.data["config.yaml"]!);
    const result = await docker(env, [
      "run",
      "--rm",
      "--read-only",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--volume",
      `${dir}:/etc/dind-k8s/config:ro`,
      IMAGE,
      "check-config",
      "--config",
      "/etc/dind-k8s/config/config.yaml",
    ]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("/etc/dind-k8s/config/config.yaml: valid.");
    expect(result.code).toBe(0);
  });
});
