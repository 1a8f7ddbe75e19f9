// /readyz says whether this replica can take webhooks: its runner Pod cache is synced and the apiserver answers.
// Never GitHub: intake makes no GitHub call, and a GitHub outage must not take every replica out of the Service.
import type { Probe } from "./http/server.ts";

export interface IntakeReadinessOptions {
  pods: { readonly synced: boolean; readonly lastError: string | undefined };
  /** Resolves when the apiserver answers (e.g. GET /version). */
  kubeProbe: () => Promise<unknown>;
  /** A probe's answer is reused this long, so /readyz calls don't each reach the apiserver. */
  cacheMs?: number;
  /** A probe that takes longer than this counts as unreachable. */
  timeoutMs?: number;
  now?: () => number;
}

export function intakeReadiness({
  pods,
  kubeProbe,
  cacheMs = 5_000,
  timeoutMs = 3_000,
  now = Date.now,
}: IntakeReadinessOptions): Probe {
  let last: { at: number; problem: string | undefined } | undefined;
  const probeKube = async (): Promise<string | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([kubeProbe(), timeout]);
      return undefined;
    } catch (error: unknown) {
      return `Kubernetes API unreachable: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      clearTimeout(timer);
    }
  };
  return async () => {
    const problems: string[] = [];
    if (!pods.synced) {
      problems.push(`runner Pod informer not synced${pods.lastError ? `: ${pods.lastError}` : ""}`);
    }
    if (last === undefined || now() - last.at >= cacheMs) last = { at: now(), problem: await probeKube() };
    if (last.problem) problems.push(last.problem);
    return problems;
  };
}
