import { afterEach, describe, expect, it, vi } from "vitest";
import { InputError, parseInputs, readInputs } from "../../../src/action/inputs.ts";

describe("parseInputs", () => {
  const valid: [Parameters<typeof parseInputs>[0], ReturnType<typeof parseInputs>][] = [
    [
      { dockerHost: "", timeout: "", context: "" },
      { dockerHost: "", timeoutMs: 120_000, context: "" },
    ],
    [
      { dockerHost: " unix:///x.sock ", timeout: "30", context: "" },
      { dockerHost: "unix:///x.sock", timeoutMs: 30_000, context: "" },
    ],
    [
      { dockerHost: "", timeout: "2.5", context: "builders" },
      { dockerHost: "", timeoutMs: 2_500, context: "builders" },
    ],
    [
      { dockerHost: "", timeout: " 120 ", context: "my-ctx.1+x" },
      { dockerHost: "", timeoutMs: 120_000, context: "my-ctx.1+x" },
    ],
  ];
  it.each(valid)("accepts %j", (raw, expected) => {
    expect(parseInputs(raw)).toEqual(expected);
  });

  const invalid: [Parameters<typeof parseInputs>[0], RegExp][] = [
    [
      { dockerHost: "", timeout: "soon", context: "" },
      /input timeout must be a positive number of seconds.*got "soon"/,
    ],
    [{ dockerHost: "", timeout: "0", context: "" }, /input timeout must be a positive number/],
    [{ dockerHost: "", timeout: "-5", context: "" }, /input timeout/],
    [
      { dockerHost: "", timeout: "", context: "default" },
      /input context "default" is not a valid docker context name/,
    ],
    [{ dockerHost: "", timeout: "", context: "has space" }, /not a valid docker context name/],
    [{ dockerHost: "", timeout: "", context: "x" }, /at least 2 characters/],
  ];
  it.each(invalid)("rejects %j", (raw, message) => {
    expect(() => parseInputs(raw)).toThrow(InputError);
    expect(() => parseInputs(raw)).toThrow(message);
  });
});

describe("readInputs", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  it("reads the runner's INPUT_ variables, hyphen and all", () => {
    vi.stubEnv("INPUT_DOCKER-HOST", "tcp://localhost:2375");
    vi.stubEnv("INPUT_TIMEOUT", "7");
    vi.stubEnv("INPUT_CONTEXT", "ci");
    expect(readInputs()).toEqual({ dockerHost: "tcp://localhost:2375", timeoutMs: 7000, context: "ci" });
  });
});
