/**
 * Deliveries of the webhook that sends us workflow_job events: the failed ones, and asking GitHub to send one
 * again. With an App and no hook id, the App's own hook, read with the App's JWT; otherwise the org/repo hook.
 */
import { deliveriesPageShape } from "./shapes.ts";
import { targetPath } from "./target.ts";
import type { Transport, Via } from "./transport.ts";
import type { GitHubApi, GitHubAuth, GitHubTarget, WebhookDelivery } from "./types.ts";

export type Deliveries = Pick<GitHubApi, "listFailedWebhookDeliveries" | "redeliverWebhook">;

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

  return {
    async listFailedWebhookDeliveries(since) {
      const deliveries = (
        await transport.paginate(hookDeliveriesPath(), {}, deliveriesPageShape, (page) => page, {
          via,
          // Newest first: stop once a page reaches back past `since`.
          more: (page) => (page.at(-1)?.deliveredAt ?? since) >= since,
        })
      ).filter((delivery) => delivery.deliveredAt >= since);
      const ok = (delivery: WebhookDelivery) => delivery.statusCode >= 200 && delivery.statusCode < 300;
      const delivered = new Set(deliveries.filter(ok).map((delivery) => delivery.guid));
      const failed = new Map<string, WebhookDelivery>();
      for (const delivery of deliveries) {
        // One entry per GUID (the newest attempt): redelivering an older attempt would send the same payload again.
        if (!ok(delivery) && !delivered.has(delivery.guid) && !failed.has(delivery.guid)) {
          failed.set(delivery.guid, delivery);
        }
      }
      return [...failed.values()];
    },

    async redeliverWebhook(deliveryId) {
      await transport.call("POST", `${hookDeliveriesPath()}/${deliveryId}/attempts`, {}, via);
    },
  };
}
