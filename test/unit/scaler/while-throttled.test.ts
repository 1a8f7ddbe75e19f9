import { describe, expect, it } from "vitest";
import { KubeApiError } from "../../../src/scaler/kube/client.ts";
import { whileThrottled } from "../../../src/scaler/kube/runner-pods.ts";

const apiError = (status: number, retryAfter?: string) =>
  new KubeApiError({
    request: "POST /api/v1/namespaces/ci/pods",
    status,
    detail: "the apiserver is busy",
    retryAfterS: retryAfter === undefined ? undefined : Number(retryAfter),
  });

describe("whileThrottled", () => {
  it("retries 429, 503 and 504 until the call succeeds", async () => {
    const answers = [apiError(429, "0"), apiError(503), apiError(504, "0")];
    let calls = 0;
    const result = await whileThrottled(async () => {
      calls++;
      const next = answers.shift();
      if (next) throw next;
      return "created";
    }, 10_000);
    expect(result).toBe("created");
    expect(calls).toBe(4);
  });

  it("fails at once on anything else", async () => {
    let calls = 0;
    const forbidden = apiError(403);
    await expect(
      whileThrottled(async () => {
        calls++;
        throw forbidden;
      }),
    ).rejects.toBe(forbidden);
    expect(calls).toBe(1);
  });

  it("gives up with the apiserver's error once the budget is spent", async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      whileThrottled(async () => {
        calls++;
        throw apiError(429, "1");
      }, 300),
    ).rejects.toMatchObject({ status: 429 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls).toBeGreaterThanOrEqual(1);
  });
});
