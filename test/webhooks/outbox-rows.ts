import { env } from 'cloudflare:test';
import type { WebhookMessage } from '../../src/domain/webhook-events';
import { unique } from '../helpers/api';

/** One row of the webhook outbox, its data parsed. */
export interface OutboxRow {
  id: string;
  type: string;
  tenant_id: string | null;
  data: Record<string, unknown>;
  occurred_at: number;
  once_key: string | null;
  enqueued_at: number | null;
}

/** A tenant's events in the outbox, in the order they were recorded (then by once-key). */
export async function eventsOf(tenantId: string, type?: string): Promise<OutboxRow[]> {
  const { results } = await env.DB.prepare(
    `SELECT id, type, tenant_id, data, occurred_at, once_key, enqueued_at FROM webhook_events
     WHERE tenant_id = ?1 AND (?2 IS NULL OR type = ?2) ORDER BY occurred_at, once_key`,
  )
    .bind(tenantId, type ?? null)
    .all<Omit<OutboxRow, 'data'> & { data: string }>();
  return results.map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
}

/** A tenant's budget.threshold and budget.refused events (not the key.created of its keys). */
export async function budgetEventsOf(tenantId: string): Promise<OutboxRow[]> {
  return (await eventsOf(tenantId)).filter((r) => r.type.startsWith('budget.'));
}

/** The threshold percents of a tenant's budget.threshold events for one scope, sorted. */
export async function crossed(tenantId: string, scope: 'key' | 'tenant'): Promise<number[]> {
  const rows = await eventsOf(tenantId, 'budget.threshold');
  return rows.filter((r) => r.data.scope === scope).map((r) => r.data.threshold_percent as number).sort((a, b) => a - b);
}

/** A queue binding that keeps what it is given, so a test sees what would go to the consumer. */
export function recordingQueue(): { queue: Queue<WebhookMessage>; sent: WebhookMessage[] } {
  const sent: WebhookMessage[] = [];
  const metrics = { backlogCount: 0, backlogBytes: 0 };
  const queue: Queue<WebhookMessage> = {
    async metrics() {
      return metrics;
    },
    async send(body) {
      sent.push(body);
      return { metadata: { metrics } };
    },
    async sendBatch(messages) {
      for (const m of messages) sent.push(m.body);
      return { metadata: { metrics } };
    },
  };
  return { queue, sent };
}

/** A webhook endpoint row for one tenant, taking every event (the admin API for it is built elsewhere). */
export async function tenantEndpoint(tenantId: string): Promise<string> {
  const id = unique('wh');
  await env.DB.prepare(
    `INSERT INTO webhooks (id, url, events, tenant_id, description, secret, created_at) VALUES (?, 'https://hooks.example/in', '["*"]', ?, NULL, 'whsec_dGVzdA==', ?)`,
  )
    .bind(id, tenantId, new Date().toISOString())
    .run();
  return id;
}
