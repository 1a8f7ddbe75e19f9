import { describe, expect, it } from "vitest";
import { concurrencyGroup, spacingGroup } from "../../../src/scaler/github/limiter.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("concurrencyGroup", () => {
  it("never runs more than maxConcurrent tasks at once and runs them all, in order of arrival", async () => {
    const scheduler = concurrencyGroup(3).key("any");
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const task = async (n: number) => {
      started.push(n);
      running += 1;
      peak = Math.max(peak, running);
      await sleep(5);
      running -= 1;
      return n * 2;
    };
    const results = await Promise.all(Array.from({ length: 10 }, (_, n) => scheduler.schedule({}, task, n)));
    expect(results).toEqual(Array.from({ length: 10 }, (_, n) => n * 2));
    expect(peak).toBe(3);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("frees the slot when a task fails", async () => {
    const scheduler = concurrencyGroup(1).key("any");
    await expect(scheduler.schedule({}, async () => Promise.reject(new Error("boom")))).rejects.toThrow(
      "boom",
    );
    await expect(scheduler.schedule({}, async () => "after")).resolves.toBe("after");
  });

  it("rejects a nonsensical limit", () => {
    expect(() => concurrencyGroup(0)).toThrow(/positive integer/);
  });
});

describe("spacingGroup", () => {
  it("spaces task starts by the interval", async () => {
    const scheduler = spacingGroup(30).key("any");
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, () =>
        scheduler.schedule({}, async () => {
          starts.push(Date.now());
        }),
      ),
    );
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(25);
    }
  });

  it("does not delay anything with a zero interval", async () => {
    const scheduler = spacingGroup(0).key("any");
    const before = Date.now();
    await Promise.all(Array.from({ length: 50 }, () => scheduler.schedule({}, async () => undefined)));
    expect(Date.now() - before).toBeLessThan(50);
  });
});
