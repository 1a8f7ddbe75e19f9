/**
 * Deliveries of the webhook that sends us workflow_job events: the log GitHub keeps of them (failed ones
 * included), one delivery's payload, and asking GitHub to send one again. With an App and no hook id, the App's
 * own hook, read with the App's JWT; otherwise the org/repo hook.
 */
import { deliveriesPageShape, deliveryRecordShape, read } from "./shapes.ts";
import { targetPath } from "./target.ts";
import type { Transport, Via } from "./transport.ts";
import type { GitHubApi, GitHubAuth, GitHubTarget, WebhookDelivery } from "./types.ts";

export type Deliveries = Pick<
  GitHubApi,
  "listFailedWebhookDeliveries" | "redeliverWebhook" | "listWebhookDeliveriesAfter" | "getWebhookDelivery"
>;

/** Whether GitHub's attempt at a delivery got a 2xx answer from the hook. */
export const succeeded = (delivery: { statusCode: number }) =>
  delivery.statusCode >= 200 && delivery.statusCode < 300;

export function createDeliveries({
  transport,
  target,
  auth,
  hookId,
}: {
  transport: Transport;
  target: GitHubTarget;
  auth: GitHubAuth["kind"];
  hookId: number | undefined;
}): Deliveries {
  const via: Via = hookId === undefined && auth === "app" ? "jwt" : "installation";

  function hookDeliveriesPath(): string {
    if (hookId !== undefined) return `${targetPath(target)}/hooks/${hookId}/deliveries`;
    if (auth === "app") return "/app/hook/deliveries";
    throw new Error(
      "Reading webhook deliveries with a token needs the id of the webhook (github.hookId): it is in the hook's settings URL, …/settings/hooks/<id>",
    );
  }

  /** The log newest first, read back page by page only until a page reaches an entry `done` says is old enough. */
  async function newestUntil(done: (delivery: WebhookDelivery) => boolean): Promise<WebhookDelivery[]> {
    const deliveries = await transport.paginate(
      hookDeliveriesPath(),
      {},
      deliveriesPageShape,
      (page) => page,
      { via, more: (page) => !page.some(done) },
    );
    return deliveries.filter((delivery) => !done(delivery));
  }

  return {
    async listFailedWebhookDeliveries(since) {
      const deliveries = await newestUntil((delivery) => delivery.deliveredAt < since);
      const delivered = new Set(deliveries.filter(succeeded).map((delivery) => delivery.guid));
      const failed = new Map<string, WebhookDelivery>();
      for (const delivery of deliveries) {
        // One entry per GUID (the newest attempt): redelivering an older attempt would send the same payload again.
        if (!succeeded(delivery) && !delivered.has(delivery.guid) && !failed.has(delivery.guid)) {
          failed.set(delivery.guid, delivery);
        }
      }
      return [...failed.values()];
    },

    listWebhookDeliveriesAfter(afterId, since) {
      return newestUntil(
        (delivery) => delivery.deliveredAt < since || (afterId !== undefined && delivery.id <= afterId),
      );
    },

    async getWebhookDelivery(deliveryId) {
      const path = `${hookDeliveriesPath()}/${deliveryId}`;
      const reply = await transport.call("GET", path, {}, via);
      return read(deliveryRecordShape, reply.data, `GET ${path}`);
    },

    async redeliverWebhook(deliveryId) {
      await transport.call("POST", `${hookDeliveriesPath()}/${deliveryId}/attempts`, {}, via);
    },
  };
}
