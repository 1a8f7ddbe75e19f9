import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { EOL, tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "@actions/core";
import { describe, expect, it } from "vitest";
import { formatBytes } from "../../../src/action/format.ts";
import { addFailureSummary, addReadySummary, dataRootSpace } from "../../../src/action/summary.ts";
import { parseEndpoint } from "../../../src/docker/endpoint.ts";

const socket = parseEndpoint("unix:///var/run/docker.sock", { defaultCertDir: "/certs/client" });

/** What core.summary would append to GITHUB_STEP_SUMMARY, without writing it. */
function rendered(add: (summary: typeof core.summary) => unknown): string {
  core.summary.emptyBuffer();
  add(core.summary);
  const html = core.summary.stringify();
  core.summary.emptyBuffer();
  return html;
}

const ghesJob = {
  words: "job build of octo/app, run 1234 attempt 2",
  runUrl: "https://ghes.example/octo/app/actions/runs/1234/attempts/2",
};

describe("addReadySummary", () => {
  it("is a heading, a table of endpoint, versions, storage driver, data root with free space and wait time, and where it ran", () => {
    const html = rendered((summary) =>
      addReadySummary(
        summary,
        {
          endpoint: parseEndpoint("tcp://localhost:2376", { defaultCertDir: "/certs/client" }),
          version: { Version: "27.3.1", ApiVersion: "1.47" },
          info: { Driver: "overlay2", DockerRootDir: "/var/lib/docker" },
          waitedMs: 812.4,
          dataRootSpace: "9.5 GiB free of 20.0 GiB",
        },
        ghesJob,
      ),
    );
    expect(html.split(EOL)).toEqual([
      "<h3>Docker daemon</h3>",
      [
        "<table>",
        "<tr><th>Endpoint</th><td>tcp://localhost:2376 (TLS, certs in /certs/client)</td></tr>",
        "<tr><th>Docker version</th><td>27.3.1</td></tr>",
        "<tr><th>API version</th><td>1.47</td></tr>",
        "<tr><th>Storage driver</th><td>overlay2</td></tr>",
        "<tr><th>Data root</th><td>/var/lib/docker (9.5 GiB free of 20.0 GiB)</td></tr>",
        "<tr><th>Wait time</th><td>812 ms</td></tr>",
        "</table>",
      ].join(""),
      '<p>dind-setup in <a href="https://ghes.example/octo/app/actions/runs/1234/attempts/2">job build of octo/app, run 1234 attempt 2</a></p>',
      "",
    ]);
  });

  it("escapes what the daemon sends, so it cannot become markup", () => {
    const html = rendered((summary) =>
      addReadySummary(
        summary,
        {
          endpoint: socket,
          version: { Version: "<img src=x>", ApiVersion: 'a"&b' },
          info: { Driver: "vfs" },
          waitedMs: 0,
          dataRootSpace: "?",
        },
        { words: undefined, runUrl: undefined },
      ),
    );
    expect(html).toContain("<td>&lt;img src=x&gt;</td>");
    expect(html).toContain("<td>a&quot;&amp;b</td>");
    expect(html).not.toContain("<p>");
  });
});

describe("addFailureSummary", () => {
  it("shows the failure as the log does, and where it ran without a link when the run is unknown", () => {
    const html = rendered((summary) =>
      addFailureSummary(summary, "No Docker daemon answered within 3.0 s.\n  unix:///x: <missing>", {
        words: "job build",
        runUrl: undefined,
      }),
    );
    expect(html).toBe(
      [
        "<h3>Docker daemon: not ready</h3>",
        "<pre><code>No Docker daemon answered within 3.0 s.\n  unix:///x: &lt;missing&gt;</code></pre>",
        "<p>dind-setup in job build</p>",
        "",
      ].join(EOL),
    );
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
