import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { KubeError, kubeApiError } from "../../../src/scaler/kube/api-error.ts";
import { whileThrottled } from "../../../src/scaler/kube/throttled.ts";

/** What client-node's typed clients throw for an error status: the body as text, the headers as sent. */
const apiError = (status: number, retryAfter?: string) =>
  new ApiException<string>(
    status,
    "Unknown API Status Code!",
    JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: "the apiserver is busy",
      reason: status === 429 ? "TooManyRequests" : "ServiceUnavailable",
      code: status,
    }),
    {
      "content-type": "application/json",
      ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }),
    },
  );

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

  it("waits as long as Retry-After says (capped by the budget)", async () => {
    let calls = 0;
    const started = Date.now();
    await whileThrottled(async () => {
      if (calls++ === 0) throw apiError(429, "0.2");
      return "created";
    }, 5_000);
    // Jitter takes the wait down to half of it, never to nothing (a lost Retry-After would wait 1 s).
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it("gives up with the apiserver's error once the budget is spent", async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      whileThrottled(async () => {
        calls++;
        throw apiError(429, "1");
      }, 300),
    ).rejects.toMatchObject({ code: 429 });
    // One wait fits the budget (250 ms at most, from the backoff's first step), the second (≥ 250 ms) would not:
    // exactly two calls, and it gives up without sleeping past the budget.
    expect(calls).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(120);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("kubeApiError", () => {
  it("reads status, Status reason and message, and Retry-After from client-node's ApiException", () => {
    expect(kubeApiError(apiError(429, "3"))).toMatchObject({
      status: 429,
      reason: "TooManyRequests",
      detail: "the apiserver is busy",
      retryAfterS: 3,
      message: "HTTP 429: the apiserver is busy",
    });
    expect(kubeApiError(apiError(503))?.retryAfterS).toBeUndefined();
  });

  it("keeps the start of a body that is not a Status, and explains a 401 client-node sends without one", () => {
    const proxy = new ApiException<string>(502, "Unknown API Status Code!", "<html>Bad Gateway</html>", {});
    expect(kubeApiError(proxy)).toMatchObject({
      status: 502,
      reason: undefined,
      detail: "<html>Bad Gateway</html>",
    });
    const unauthorized = new ApiException<undefined>(401, "Unauthorized", undefined, {});
    expect(kubeApiError(unauthorized)?.message).toMatch(/HTTP 401: .*did not accept the credentials/);
  });

  it("leaves other errors alone, and KubeError says what failed and why", () => {
    expect(kubeApiError(new Error("boom"))).toBeUndefined();
    const refused = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
    });
    expect(new KubeError("create Pod ci/x", refused).message).toBe(
      "create Pod ci/x: fetch failed: connect ECONNREFUSED 127.0.0.1:1",
    );
    expect(new KubeError("create Pod ci/x", apiError(503)).message).toBe(
      "create Pod ci/x: HTTP 503: the apiserver is busy",
    );
    expect(new KubeError("create Pod ci/x", apiError(503)).status).toBe(503);
  });
});
