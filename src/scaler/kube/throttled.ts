// API Priority and Fairness sheds load with 429 (and an overloaded apiserver answers 503/504): the scaler waits
// out what the apiserver asks, within a budget its caller can afford.
import { kubeApiError, kubeStatus } from "./api-error.ts";

/** How long a webhook's Kubernetes write may wait out throttling: GitHub gives up on a delivery after 10 s. */
export const THROTTLE_BUDGET_MS = 5_000;

/**
 * Retries a call the apiserver answered with 429 (API Priority and Fairness shedding load) or 503/504,
 * after its Retry-After (capped, with jitter), until `budgetMs` is spent. Anything else fails at once.
 */
export async function whileThrottled<T>(call: () => Promise<T>, budgetMs = THROTTLE_BUDGET_MS): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error: unknown) {
      const status = kubeStatus(error);
      if (status !== 429 && status !== 503 && status !== 504) throw error;
      const retryAfterS = kubeApiError(error)?.retryAfterS ?? 1;
      const wait =
        Math.min(Math.max(retryAfterS, 0.05) * 1000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (Date.now() + wait > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
