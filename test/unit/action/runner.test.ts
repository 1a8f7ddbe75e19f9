import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as runner from "../../../src/action/runner.ts";
import { readSetupState, saveSetupState } from "../../../src/action/state.ts";

let dir: string;
let files: Record<"GITHUB_ENV" | "GITHUB_OUTPUT" | "GITHUB_STATE" | "GITHUB_STEP_SUMMARY", string>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runner-"));
  files = {
    GITHUB_ENV: join(dir, "env"),
    GITHUB_OUTPUT: join(dir, "output"),
    GITHUB_STATE: join(dir, "state"),
    GITHUB_STEP_SUMMARY: join(dir, "summary"),
  };
  for (const [name, path] of Object.entries(files)) {
    await writeFile(path, "");
    vi.stubEnv(name, path);
  }
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

/** Parses the runner's `name<<delimiter` file format, as the runner does. */
function parseFileCommands(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<]+)<<(.+)$/.exec(lines[i] ?? "");
    if (!match) continue;
    const [, name, delimiter] = match;
    const value: string[] = [];
    while (lines[++i] !== delimiter) value.push(lines[i] ?? "");
    result[name as string] = value.join("\n");
  }
  return result;
}

describe("runner protocol", () => {
  it("maps input names the way the runner does", () => {
    expect(runner.inputVariableName("docker-host")).toBe("INPUT_DOCKER-HOST");
    expect(runner.inputVariableName("my input")).toBe("INPUT_MY_INPUT");
    expect(runner.getInput("docker-host", { "INPUT_DOCKER-HOST": "  unix:///x  " })).toBe("unix:///x");
    expect(runner.getInput("absent", {})).toBe("");
  });

  it("writes env, outputs and state as heredocs that survive newlines", async () => {
    runner.exportVariable("DOCKER_HOST", "tcp://localhost:2376");
    runner.setOutput("multi", "line one\nline two");
    runner.saveState("k", '{"a":1}');
    expect(process.env.DOCKER_HOST).toBe("tcp://localhost:2376");
    expect(parseFileCommands(await readFile(files.GITHUB_ENV, "utf8"))).toEqual({
      DOCKER_HOST: "tcp://localhost:2376",
    });
    expect(parseFileCommands(await readFile(files.GITHUB_OUTPUT, "utf8"))).toEqual({
      multi: "line one\nline two",
    });
    expect(parseFileCommands(await readFile(files.GITHUB_STATE, "utf8"))).toEqual({ k: '{"a":1}' });
  });

  it("refuses a value that contains the delimiter", () => {
    expect(() => runner.keyValueMessage("x", "a\nD\nb", "D")).toThrow(/contains the file command delimiter/);
  });

  it("says what is missing outside a runner", () => {
    expect(() => runner.setOutput("x", "y", {})).toThrow("GITHUB_OUTPUT is not set");
    expect(runner.appendSummary("x", {})).toBe(false);
  });

  it("escapes workflow command data so a multi-line failure stays one annotation", () => {
    expect(runner.escapeCommandData("100% down\r\nnext")).toBe("100%25 down%0D%0Anext");
  });
});

describe("setup state", () => {
  it("round-trips from main to post through GITHUB_STATE and STATE_ variables", async () => {
    saveSetupState({ dockerHost: "tcp://localhost:2376", certDir: "/certs/client", tlsVerify: true });
    const saved = parseFileCommands(await readFile(files.GITHUB_STATE, "utf8"));
    for (const [name, value] of Object.entries(saved)) vi.stubEnv(`STATE_${name}`, value);
    expect(readSetupState()).toEqual({
      dockerHost: "tcp://localhost:2376",
      certDir: "/certs/client",
      tlsVerify: true,
    });
  });

  it("is undefined when main saved nothing or something unreadable", () => {
    vi.stubEnv("STATE_dind-setup", "");
    expect(readSetupState()).toBeUndefined();
    vi.stubEnv("STATE_dind-setup", "{not json");
    expect(readSetupState()).toBeUndefined();
  });
});
