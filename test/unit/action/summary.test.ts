import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatBytes } from "../../../src/action/format.ts";
import { dataRootSpace, summaryMarkdown } from "../../../src/action/summary.ts";
import { parseEndpoint } from "../../../src/docker/endpoint.ts";

const socket = parseEndpoint("unix:///var/run/docker.sock", { defaultCertDir: "/certs/client" });

describe("summaryMarkdown", () => {
  it("is a table of endpoint, versions, storage driver, data root with free space and wait time", () => {
    const markdown = summaryMarkdown({
      endpoint: parseEndpoint("tcp://localhost:2376", { defaultCertDir: "/certs/client" }),
      version: { Version: "27.3.1", ApiVersion: "1.47" },
      info: { Driver: "overlay2", DockerRootDir: "/var/lib/docker" },
      waitedMs: 812.4,
      dataRootSpace: "9.5 GiB free of 20.0 GiB",
    });
    expect(markdown.split("\n")).toEqual([
      "### Docker daemon",
      "",
      "| | |",
      "|---|---|",
      "| Endpoint | tcp://localhost:2376 (TLS, certs in /certs/client) |",
      "| Docker version | 27.3.1 |",
      "| API version | 1.47 |",
      "| Storage driver | overlay2 |",
      "| Data root | /var/lib/docker (9.5 GiB free of 20.0 GiB) |",
      "| Wait time | 812 ms |",
    ]);
  });

  it("keeps a value with a pipe or newline inside its cell", () => {
    const markdown = summaryMarkdown({
      endpoint: socket,
      version: { Version: "a|b", ApiVersion: "1\n2" },
      info: { Driver: "vfs" },
      waitedMs: 0,
      dataRootSpace: "?",
    });
    expect(markdown).toContain("| Docker version | a\\|b |");
    expect(markdown).toContain("| API version | 1 2 |");
  });
});

describe("dataRootSpace", () => {
  it("measures a data root it can see, with the driver's directory in it", async () => {
    const root = await mkdtemp(join(tmpdir(), "data-root-"));
    try {
      await mkdir(join(root, "overlay2"));
      expect(await dataRootSpace({ Driver: "overlay2", DockerRootDir: root }, socket)).toMatch(
        /^\d+(\.\d)? [KMGT]?i?B free of \d+(\.\d)? [KMGT]?i?B$/,
      );
      // The runner image's own /var/lib/docker is not the daemon's: no driver directory, no figure.
      expect(await dataRootSpace({ Driver: "btrfs", DockerRootDir: root }, socket)).toBe(
        "free space not visible from this container",
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("does not guess for a daemon reached over TCP", async () => {
    const tcp = parseEndpoint("tcp://localhost:2375", { defaultCertDir: "/x" });
    expect(await dataRootSpace({ Driver: "overlay2", DockerRootDir: tmpdir() }, tcp)).toBe(
      "free space not visible from this container",
    );
  });
});

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [5 * 1024 ** 3, "5.0 GiB"],
    [-1, "0 B"],
  ])("%d → %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
