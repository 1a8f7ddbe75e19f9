import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadAllYaml, type V1Pod, type V1Secret } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { type Command, type Io, main } from "../../../src/cli.ts";
import { configWithSets, templateExample } from "../../helpers/templates.ts";

const fixtures = join(import.meta.dirname, "../../fixtures/config");
const minimal = join(fixtures, "minimal.yaml");

async function cli(
  args: string[],
  files: Record<string, string> = {},
  table?: Record<string, Command>,
  now?: () => Date,
) {
  let stdout = "";
  let stderr = "";
  const io: Io = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    readFile: async (path) => files[path] ?? (await readFile(path, "utf8")),
    ...(now ? { now } : {}),
  };
  const code = await main(args, io, table);
  return { code, stdout, stderr };
}

describe("dind-k8s", () => {
  it.each([["--help"], ["-h"], ["help"]])("%s lists the commands, exit 0", async (flag) => {
    const { code, stdout } = await cli([flag]);
    expect(code).toBe(0);
    expect(stdout).toContain("Usage: dind-k8s <command> [options]");
    expect(stdout).toMatch(/check-config\s+validate a configuration file/);
    expect(stdout).toMatch(/render\s+print the runner Pod/);
  });

  it("no command: the usage on stderr, exit 2", async () => {
    const { code, stderr } = await cli([]);
    expect(code).toBe(2);
    expect(stderr).toContain("Usage: dind-k8s <command>");
  });

  it.each([["--version"], ["-V"], ["version"]])(
    "%s prints the package version alone, exit 0",
    async (flag) => {
      const { version } = JSON.parse(
        await readFile(join(import.meta.dirname, "../../../package.json"), "utf8"),
      );
      const { code, stdout, stderr } = await cli([flag]);
      expect(code).toBe(0);
      expect(stdout).toBe(`${version}\n`);
      expect(stderr).toBe("");
    },
  );

  it("an unknown command is named, exit 2", async () => {
    const { code, stderr } = await cli(["serv"]);
    expect(code).toBe(2);
    expect(stderr).toContain('dind-k8s: unknown command "serv"');
  });

  it("takes its command table as a parameter (serve joins it later)", async () => {
    const serve: Command = {
      summary: "run the scaler",
      usage: "Usage: dind-k8s serve --config FILE",
      run: async (args, io) => {
        io.stdout(`serving ${args.join(" ")}\n`);
        return 0;
      },
    };
    expect(await cli(["serve", "--config", "x"], {}, { serve })).toEqual({
      code: 0,
      stdout: "serving --config x\n",
      stderr: "",
    });
    expect((await cli(["--help"], {}, { serve })).stdout).toMatch(/serve\s+run the scaler/);
  });

  it("an unexpected failure is reported with its command, exit 1", async () => {
    const broken: Command = {
      summary: "x",
      usage: "x",
      run: async () => {
        throw new Error("boom");
      },
    };
    const { code, stderr } = await cli(["broken"], {}, { broken });
    expect(code).toBe(1);
    expect(stderr).toContain("dind-k8s broken: Error: boom");
  });

  it("names each cause of an unexpected failure (fetch's 'fetch failed' says what failed only in its cause)", async () => {
    const broken: Command = {
      summary: "x",
      usage: "x",
      run: async () => {
        const refused = new Error("connect ECONNREFUSED 127.0.0.1:6443");
        throw new TypeError("fetch failed", { cause: refused });
      },
    };
    const { code, stderr } = await cli(["broken"], {}, { broken });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^dind-k8s broken: TypeError: fetch failed\n[\s\S]*\ncaused by: connect ECONNREFUSED 127\.0\.0\.1:6443\n$/,
    );
  });
});

describe("dind-k8s check-config", () => {
  it("--help, exit 0", async () => {
    const { code, stdout } = await cli(["check-config", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("Usage: dind-k8s check-config --config FILE");
  });

  it("a valid file: a summary, exit 0", async () => {
    const { code, stdout, stderr } = await cli(["check-config", "--config", minimal]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toBe(
      `${minimal}: valid. 1 runner set: dind-k8s (labels dind-k8s; privileged; maxRunners 10, minIdle 0)\n`,
    );
  });

  it("a bad file: every problem with file, key and expectation on stderr, exit 2", async () => {
    const text = (await readFile(minimal, "utf8"))
      .replace("maxRunners: 10", "maxRunners: -1")
      .replace("namespace: dind-runners", "namespace: dind-runners\n  namespaces: x");
    const { code, stdout, stderr } = await cli(["check-config", "--config", "/etc/bad.yaml"], {
      "/etc/bad.yaml": text,
    });
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      [
        "/etc/bad.yaml: 2 problems in the configuration:",
        '  kubernetes.namespaces: unknown key; did you mean "namespace"? (allowed here: namespace, sidecars) (line 8)',
        "  runnerSets[0].maxRunners: expected a whole number ≥ 0, got -1 (line 12)",
        "",
      ].join("\n"),
    );
  });

  it("a valid file with schedules: each window's next three activations, local and UTC", async () => {
    const text = `${await readFile(minimal, "utf8")}    schedules:
      - name: working-hours
        cron: "0 8 * * 1-5"
        duration: 10h
        timeZone: Europe/Berlin
        minIdle: 4
      - cron: "30 2 * * *"
        duration: 1h
        timeZone: Europe/Berlin
        minIdle: 1
        maxRunners: 12
`;
    // Friday 27 March 2026, noon UTC: Berlin's clocks go forward on Sunday the 29th.
    const { code, stdout, stderr } = await cli(
      ["check-config", "--config", "/etc/scheduled.yaml"],
      { "/etc/scheduled.yaml": text },
      undefined,
      () => new Date("2026-03-27T12:00:00Z"),
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout.split("\n").slice(1)).toEqual([
      'dind-k8s: window working-hours ("0 8 * * 1-5" in Europe/Berlin, open 10h): minIdle 4',
      "  opens 2026-03-30 08:00 GMT+2 (2026-03-30T06:00Z)",
      "  opens 2026-03-31 08:00 GMT+2 (2026-03-31T06:00Z)",
      "  opens 2026-04-01 08:00 GMT+2 (2026-04-01T06:00Z)",
      'dind-k8s: window schedules[1] ("30 2 * * *" in Europe/Berlin, open 1h): minIdle 1, maxRunners 12',
      "  opens 2026-03-28 02:30 GMT+1 (2026-03-28T01:30Z)",
      "  opens 2026-03-29 03:00 GMT+2 (2026-03-29T01:00Z)",
      "  opens 2026-03-30 02:30 GMT+2 (2026-03-30T00:30Z)",
      "",
    ]);
  });

  it("a bad schedule window: each key named with what was expected", async () => {
    const text = `${await readFile(minimal, "utf8")}    schedules:
      - cron: "0 25 * * *"
        duration: ten hours
        timeZone: Europe/Berlinn
        minIdle: 11
`;
    const { code, stderr } = await cli(["check-config", "--config", "/etc/bad.yaml"], {
      "/etc/bad.yaml": text,
    });
    expect(code).toBe(2);
    expect(stderr).toContain(
      'runnerSets[0].schedules[0].cron: expected a cron expression (minute hour day-of-month month day-of-week, e.g. "0 8 * * 1-5"), got "0 25 * * *": Invalid value for hour: 25',
    );
    expect(stderr).toContain(
      'runnerSets[0].schedules[0].duration: expected a duration such as 90s, 45m, 10h or 1h30m, got "ten hours"',
    );
    expect(stderr).toContain(
      'runnerSets[0].schedules[0].timeZone: expected an IANA time zone such as Europe/Berlin, America/New_York or UTC, got "Europe/Berlinn"',
    );
    expect(stderr).toContain("runnerSets[0].schedules[0].minIdle: expected at most maxRunners (10), got 11");
  });

  it("a missing file, exit 2", async () => {
    const { code, stderr } = await cli(["check-config", "--config", "/nonexistent.yaml"]);
    expect(code).toBe(2);
    expect(stderr).toContain(
      "/nonexistent.yaml: 1 problem in the configuration:\n  can't read the configuration file: ENOENT",
    );
  });

  it.each([
    [[], "missing --config FILE"],
    [["--confg", "x"], "Unknown option '--confg'"],
    [["--config"], "Option '--config <value>' argument missing"],
  ])("%o: a usage error with the command's usage, exit 2", async (args, message) => {
    const { code, stderr } = await cli(["check-config", ...args]);
    expect(code).toBe(2);
    expect(stderr).toContain(`dind-k8s check-config: ${message}`);
    expect(stderr).toContain("Usage: dind-k8s check-config --config FILE");
  });
});

describe("dind-k8s check-config and render with a Pod template", () => {
  const file = "/etc/templates.yaml";
  const text = configWithSets(templateExample("proxy-env"));

  it("a contradiction: the key and why, with its line, exit 2", async () => {
    const bad = text.replace(
      "          - name: runner\n",
      "          - name: runner\n            env: [{ name: DOCKER_HOST, value: tcp://x }]\n",
    );
    const { code, stderr } = await cli(["check-config", "--config", file], { [file]: bad });
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /runnerSets\[0\]\.template\.spec\.containers\[0\]\.env\[0\]\.name: "DOCKER_HOST" is set by dind-k8s: .* \(line \d+\)/,
    );
  });

  it("--kubeconfig without --server is a usage error", async () => {
    const { code, stderr } = await cli(["check-config", "--config", file, "--kubeconfig", "/k"], {
      [file]: text,
    });
    expect(code).toBe(2);
    expect(stderr).toContain("dind-k8s check-config: --kubeconfig goes with --server");
  });

  it("render prints the merged Pod: the template's envFrom on runner and dind, dind-k8s's parts completed", async () => {
    const { code, stdout } = await cli(["render", "--config", file, "--set", "proxied"], { [file]: text });
    expect(code).toBe(0);
    const [pod] = loadAllYaml(stdout) as [V1Pod];
    const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    for (const name of ["runner", "dind"]) {
      const container = all.find((c) => c.name === name);
      expect(container?.envFrom).toEqual([{ configMapRef: { name: "corp-proxy" } }]);
      expect(container?.image).toBeDefined();
    }
    expect(pod.metadata?.annotations?.["dind-k8s.io/spec-hash"]).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("dind-k8s render", () => {
  it("--help, exit 0", async () => {
    const { code, stdout } = await cli(["render", "-h"]);
    expect(code).toBe(0);
    expect(stdout).toContain("Usage: dind-k8s render --config FILE --set NAME");
  });

  it("the minimal file: a Pod and a Secret as multi-document YAML that parses cleanly", async () => {
    const { code, stdout, stderr } = await cli(["render", "--config", minimal, "--set", "dind-k8s"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const documents = parseAllDocuments(stdout);
    expect(Array.isArray(documents)).toBe(true);
    if (!Array.isArray(documents)) return;
    expect(documents.flatMap((d) => [...d.errors, ...d.warnings])).toEqual([]);
    const objects = documents.map((d) => d.toJS()).filter((o) => o !== null);
    expect(objects.map((o) => [o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace])).toEqual([
      ["v1", "Pod", "dind-k8s-12345678901-1", "dind-runners"],
      ["v1", "Secret", "dind-k8s-12345678901-1", "dind-runners"],
    ]);
    // No YAML anchors: what users copy from here must read like any manifest.
    expect(stdout).not.toMatch(/[&*]a\d/);
    expect(objects[1].stringData.jitConfig).toMatch(/^PLACEHOLDER/);
    // What kubectl's client library makes of it: the same two typed objects.
    const [pod, secret] = loadAllYaml(stdout) as [V1Pod, V1Secret];
    expect(pod.spec?.initContainers?.find((c) => c.name === "dind")?.restartPolicy).toBe("Always");
    expect(secret.type).toBe("Opaque");
  });

  it("--job-id, --run-attempt and --sidecars legacy", async () => {
    const { code, stdout } = await cli([
      "render",
      "--config",
      minimal,
      "--set",
      "dind-k8s",
      "--job-id",
      "77",
      "--run-attempt",
      "3",
      "--sidecars",
      "legacy",
    ]);
    expect(code).toBe(0);
    const [pod] = loadAllYaml(stdout) as V1Pod[];
    expect(pod?.metadata?.name).toBe("dind-k8s-77-3");
    expect(pod?.spec?.containers.map((c) => c.name)).toEqual(["runner", "dind"]);
  });

  it("an unknown set names the sets the file has, exit 2", async () => {
    const { code, stderr } = await cli(["render", "--config", minimal, "--set", "nope"]);
    expect(code).toBe(2);
    expect(stderr).toBe(`${minimal}: no runner set named "nope"; the file has: dind-k8s\n`);
  });

  it.each([
    [["--config", minimal], "missing --set NAME"],
    [["--config", minimal, "--set", "dind-k8s", "--job-id", "-4"], "Option '--job-id' argument is ambiguous"],
    [
      ["--config", minimal, "--set", "dind-k8s", "--job-id", "x"],
      '--job-id: expected a whole number ≥ 0, got "x"',
    ],
    [
      ["--config", minimal, "--set", "dind-k8s", "--run-attempt", "0"],
      '--run-attempt: expected a whole number ≥ 1, got "0"',
    ],
    [
      ["--config", minimal, "--set", "dind-k8s", "--sidecars", "auto"],
      '--sidecars: expected native or legacy, got "auto"',
    ],
  ])("%o: usage error, exit 2", async (args, message) => {
    const { code, stderr } = await cli(["render", ...args]);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });

  it("a bad config is refused like check-config does, exit 2", async () => {
    const { code, stderr } = await cli(["render", "--config", "/c.yaml", "--set", "x"], {
      "/c.yaml": "github: 1\n",
    });
    expect(code).toBe(2);
    expect(stderr).toContain(
      "/c.yaml: 3 problems in the configuration:\n  github: expected a mapping, got 1 (line 1)",
    );
  });
});
