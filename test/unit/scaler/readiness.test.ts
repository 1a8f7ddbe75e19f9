import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/scaler/observe/log.ts";
import { watchReachability } from "../../../src/scaler/observe/reachability.ts";
import { intakeReadiness } from "../../../src/scaler/readiness.ts";

describe("intakeReadiness", () => {
  it("is ready when the Pod cache is synced and the apiserver answers", async () => {
    const ready = intakeReadiness({
      pods: { synced: true, lastError: undefined },
      kubeProbe: async () => ({}),
    });
    expect(await ready()).toEqual([]);
  });

  it("names an unsynced cache (with its last error) and an apiserver that doesn't answer", async () => {
    const ready = intakeReadiness({
      pods: { synced: false, lastError: "list Pods: 403 Forbidden" },
      kubeProbe: async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
      },
    });
    expect(await ready()).toEqual([
      "runner Pod informer not synced: list Pods: 403 Forbidden",
      "Kubernetes API unreachable: connect ECONNREFUSED 127.0.0.1:6443",
    ]);
  });

  it("counts an apiserver that hangs as unreachable after the timeout", async () => {
    const ready = intakeReadiness({
      pods: { synced: true, lastError: undefined },
      kubeProbe: () => new Promise(() => {}),
      timeoutMs: 20,
    });
    expect(await ready()).toEqual(["Kubernetes API unreachable: no answer within 20 ms"]);
  });

  it("reuses a probe's answer for cacheMs", async () => {
    let now = 0;
    let probes = 0;
    const ready = intakeReadiness({
      pods: { synced: true, lastError: undefined },
      kubeProbe: async () => {
        probes++;
      },
      cacheMs: 5_000,
      now: () => now,
    });
    await ready();
    now = 4_999;
    await ready();
    expect(probes).toBe(1);
    now = 5_000;
    await ready();
    expect(probes).toBe(2);
  });
});

describe("watchReachability", () => {
  it("reports every probe as 1 or 0 and logs only the changes", async () => {
    // Then reachable for good.
    const answers = [true, false, false, false, true];
    const reported: number[] = [];
    const lines: string[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const watch = watchReachability({
      what: "GitHub",
      probe: async () => {
        const up = answers.shift() ?? true;
        if (!up) throw new Error("connect ECONNREFUSED");
      },
      intervalMs: 1,
      report: (value) => {
        reported.push(value);
        if (reported.length === 6) done();
      },
      log: createLogger({ level: "debug", write: (line) => lines.push(line) }),
    });
    await finished;
    await watch.stop();
    expect(reported.slice(0, 6)).toEqual([1, 0, 0, 0, 1, 1]);
    const messages = lines.map((line) => JSON.parse(line) as { message: string; error?: string });
    expect(messages.map((entry) => entry.message)).toEqual([
      "GitHub unreachable; intake goes on, the reconciler retries with backoff",
      "GitHub reachable again",
    ]);
    expect(messages[0]?.error).toBe("connect ECONNREFUSED");
  });
});
