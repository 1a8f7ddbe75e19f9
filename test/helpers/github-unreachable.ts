// A GitHub that is never reachable: intake needs no GitHub call, so this is enough to start a scaler that
// only takes webhooks.
export const unreachableGitHub = {
  async generateJitConfig(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async deleteRunner(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async listRunners(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async runnerGroupId(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async ping(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async listFailedWebhookDeliveries(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async redeliverWebhook(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async listWebhookDeliveriesAfter(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async getWebhookDelivery(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async listQueuedJobs(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  async getWorkflowJob(): Promise<never> {
    throw new Error("GitHub is not reachable in this test");
  },
  rateLimitRemaining: () => undefined,
  callCount: () => 0,
};
