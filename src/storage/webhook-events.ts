/**
 * The webhook outbox (docs/webhooks.md): an event row is written in the same D1 batch as the
 * change that caused it, and handed to the queue after that batch commits.
 */
import type { WebhookEvent, WebhookEventType } from '../domain/webhook-events';
import { fieldsOf } from './rows';

interface EventRow {
  id: string;
  type: WebhookEventType;
  tenant_id: string | null;
  webhook_id: string | null;
  data: string;
  occurred_at: number;
  once_key: string | null;
}

const EVENT_COLUMNS = 'id, type, tenant_id, webhook_id, data, occurred_at, once_key';

function eventOf(row: EventRow): WebhookEvent {
  return { ...fieldsOf(row), data: JSON.parse(row.data) as Record<string, unknown> };
}

/**
 * The statement that records an event, for the caller's batch. An event whose once-key already
 * exists is not recorded again (and the statement changes no row).
 */
export function insertEvent(db: D1Database, event: WebhookEvent): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO webhook_events (id, type, tenant_id, webhook_id, data, occurred_at, once_key)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
    .bind(event.id, event.type, event.tenantId, event.webhookId, JSON.stringify(event.data), event.occurredAt, event.onceKey);
}

/**
 * Takes up to `limit` events not yet handed to the queue, marking them taken, oldest first. Two
 * callers never take the same event. One that then fails to enqueue gives them back (`untake`).
 */
export async function takePendingEvents(db: D1Database, now: number, limit: number): Promise<WebhookEvent[]> {
  const { results } = await db
    .prepare(
      `UPDATE webhook_events SET enqueued_at = ?
       WHERE id IN (SELECT id FROM webhook_events WHERE enqueued_at IS NULL ORDER BY occurred_at LIMIT ?)
         AND enqueued_at IS NULL
       RETURNING ${EVENT_COLUMNS}`,
    )
    .bind(now, limit)
    .all<EventRow>();
  return results.map(eventOf).sort((a, b) => a.occurredAt - b.occurredAt);
}

export async function untakeEvents(db: D1Database, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .prepare(`UPDATE webhook_events SET enqueued_at = NULL WHERE id IN (SELECT value FROM json_each(?))`)
    .bind(JSON.stringify(ids))
    .run();
}

export async function getEvent(db: D1Database, id: string): Promise<WebhookEvent | null> {
  const row = await db
    .prepare(`SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE id = ?`)
    .bind(id)
    .first<EventRow>();
  return row ? eventOf(row) : null;
}
