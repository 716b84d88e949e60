/**
 * Webhook events (docs/webhooks.md): what can happen, and what travels on the queue.
 */

export const WEBHOOK_EVENT_TYPES = [
  'budget.threshold',
  'budget.refused',
  'key.created',
  'key.revoked',
  'key.rotated',
  'key.expiring',
  'webhook.test',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** An event as the outbox holds it (table `webhook_events`). */
export interface WebhookEvent {
  /** 'msg_…': the `webhook-id` header, the same on every retry. */
  id: string;
  type: WebhookEventType;
  /** Whose event; a tenant's endpoints receive only their tenant's events. */
  tenantId: string | null;
  /** Set for `webhook.test` only: delivered to this endpoint alone. */
  webhookId: string | null;
  data: Record<string, unknown>;
  /** ms since the epoch; the body's `timestamp`. */
  occurredAt: number;
  /** At most one event per once-key: a threshold crossing, a period's first refusal, an expiry warning. */
  onceKey: string | null;
}

/** One message on WEBHOOK_QUEUE: one event to one endpoint. Retries of it keep the event's id. */
export interface WebhookMessage {
  eventId: string;
  webhookId: string;
}
