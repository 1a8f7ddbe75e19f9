import { describe, expect, it } from "vitest";
import { UNTRUSTED_LOG_CHARS, untrustedText } from "../../../src/scaler/observe/untrusted.ts";

describe("untrustedText", () => {
  it.each([
    { value: undefined, expected: undefined, why: "an absent header stays absent" },
    { value: "workflow_job", expected: "workflow_job", why: "a plain value is kept" },
    { value: 'a"b', expected: 'a"b', why: "quotes are left to the JSON line" },
    { value: "a\\b", expected: "a\\u005cb", why: "a backslash is escaped, so escapes are ours" },
    { value: "a\nb\u0000", expected: "a\\u000ab\\u0000", why: "control characters are escaped" },
    { value: "é\u2028", expected: "\\u00e9\\u2028", why: "non-ASCII is escaped" },
  ])("$why", ({ value, expected }) => {
    expect(untrustedText(value)).toBe(expected);
  });

  it("keeps a bounded prefix and says how much was cut", () => {
    const text = untrustedText("x".repeat(16_384));
    expect(text).toBe(`${"x".repeat(UNTRUSTED_LOG_CHARS)}…(+${16_384 - UNTRUSTED_LOG_CHARS} chars)`);
  });
});
