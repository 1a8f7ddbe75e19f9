import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dockerContextArgs, findOnPath } from "../../../src/action/context.ts";
import { parseEndpoint } from "../../../src/docker/endpoint.ts";

describe("dockerContextArgs", () => {
  it("puts the TLS files into the context, since buildx ignores the TLS env vars", () => {
    const endpoint = parseEndpoint("tcp://localhost:2376", { defaultCertDir: "/certs/client" });
    expect(dockerContextArgs("create", "builders", endpoint)).toEqual([
      "context",
      "create",
      "builders",
      "--description",
      "Docker daemon of this job (created by dind-setup)",
      "--docker",
      "host=tcp://localhost:2376,ca=/certs/client/ca.pem,cert=/certs/client/cert.pem,key=/certs/client/key.pem,skip-tls-verify=false",
    ]);
  });

  it("has only the host for a socket", () => {
    const endpoint = parseEndpoint("unix:///var/run/docker.sock", { defaultCertDir: "/x" });
    expect(dockerContextArgs("update", "ci", endpoint).slice(1, 3)).toEqual(["update", "ci"]);
    expect(dockerContextArgs("update", "ci", endpoint).at(-1)).toBe("host=unix:///var/run/docker.sock");
  });

  it("quotes CSV fields with commas, as the docker CLI parses --docker as CSV", () => {
    const endpoint = parseEndpoint("tcp://h:2376", {
      tls: { certDir: "/a,b", verify: true },
      defaultCertDir: "/x",
    });
    expect(dockerContextArgs("create", "ci", endpoint).at(-1)).toBe(
      'host=tcp://h:2376,"ca=/a,b/ca.pem","cert=/a,b/cert.pem","key=/a,b/key.pem",skip-tls-verify=false',
    );
  });
});

describe("findOnPath", () => {
  it("finds an executable and skips non-executables and empty entries", async () => {
    const dir = await mkdtemp(join(tmpdir(), "find-on-path-"));
    try {
      const first = join(dir, "a");
      const second = join(dir, "b");
      await Promise.all([mkdir(first), mkdir(second)]);
      await writeFile(join(first, "docker"), "not executable");
      await writeFile(join(second, "docker"), "#!/bin/sh\n");
      await chmod(join(second, "docker"), 0o755);
      expect(await findOnPath("docker", `::${first}:${second}`)).toBe(join(second, "docker"));
      expect(await findOnPath("docker", first)).toBeUndefined();
      expect(await findOnPath("docker", undefined)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
