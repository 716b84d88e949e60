/**
 * Webhook events (docs/webhooks.md): what can happen, and what travels on the queue.
 */
import type { FieldProblem } from './failure';
import { newId } from './keys';

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

/** A new event id: 'msg_' + random, sent as `webhook-id` on every attempt. */
export function newEventId(): string {
  return newId('msg');
}

/** The JSON body of every delivery of an event: `{ type, timestamp, data }`, the same bytes on each retry. */
export function eventBody(event: WebhookEvent): string {
  return JSON.stringify({ type: event.type, timestamp: new Date(event.occurredAt).toISOString(), data: event.data });
}

/**
 * The event types an endpoint asks for: known types, each once, or `['*']` alone for every type.
 * Returns the list as stored, or why it cannot be.
 */
export function eventSelection(events: readonly string[]): string[] | FieldProblem {
  const problem = (message: string): FieldProblem => ({ param: 'events', message });
  if (events.length === 0) return problem("events must name at least one event type, or be ['*']");
  if (events.includes('*')) return events.length === 1 ? ['*'] : problem("'*' means every event type and stands alone");
  const unknown = events.filter((e) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e));
  if (unknown.length > 0) return problem(`unknown event type '${unknown[0]}'; known: ${WEBHOOK_EVENT_TYPES.join(', ')}`);
  return [...new Set(events)];
}
