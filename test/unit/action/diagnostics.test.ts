import { describe, expect, it } from "vitest";
import { formatDiagnostics } from "../../../src/action/diagnostics.ts";

describe("formatDiagnostics", () => {
  it("lists running containers and disk use by kind", () => {
    const lines = formatDiagnostics(
      "unix:///var/run/docker.sock",
      [
        { Id: "abc", Names: ["/postgres"], Image: "postgres:16", Status: "Up 3 minutes" },
        { Id: "0123456789abcdef", Image: "redis", State: "running" },
      ],
      {
        LayersSize: 3 * 1024 ** 3,
        Images: [{ Size: 1 }, { Size: 2 }],
        BuildCache: [
          { Size: 512 * 1024 ** 2, Shared: false },
          { Size: 1024 ** 3, Shared: true },
        ],
        Containers: [{ SizeRw: 1024 }],
        Volumes: [{ UsageData: { Size: 2048 } }, { UsageData: { Size: -1 } }, { UsageData: null }],
      },
    );
    expect(lines).toEqual([
      "Docker daemon unix:///var/run/docker.sock at the end of the job:",
      "Running containers: 2",
      "  postgres (postgres:16, Up 3 minutes)",
      "  0123456789ab (redis, running)",
      "Disk used: images 3.0 GiB (2), build cache 512.0 MiB (2 entries), containers 1.0 KiB, volumes 2.0 KiB",
    ]);
  });

  it("says none, and reports what it could not get instead of failing", () => {
    expect(formatDiagnostics("tcp://localhost:2375", [], new Error("no answer within 10000 ms"))).toEqual([
      "Docker daemon tcp://localhost:2375 at the end of the job:",
      "Running containers: none",
      "Disk used: unavailable (no answer within 10000 ms)",
    ]);
    expect(
      formatDiagnostics("x", new Error("connection refused"), { Images: null, BuildCache: null })[1],
    ).toBe("Running containers: unavailable (connection refused)");
  });

  it("names the job it ran in, when the runner said", () => {
    expect(formatDiagnostics("x", [], {}, "job build of octo/app, run 1234 attempt 2")[0]).toBe(
      "Docker daemon x at the end of job build of octo/app, run 1234 attempt 2:",
    );
  });

  it("shows at most ten containers", () => {
    const many = Array.from({ length: 12 }, (_, i) => ({
      Id: `id${i}`,
      Names: [`/c${i}`],
      Image: "i",
      Status: "Up",
    }));
    const lines = formatDiagnostics("x", many, {});
    expect(lines.filter((line) => line.startsWith("  c"))).toHaveLength(10);
    expect(lines).toContain("  … and 2 more");
  });
});
