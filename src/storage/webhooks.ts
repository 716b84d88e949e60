/**
 * Webhook endpoints (docs/webhooks.md).
 */
import type { WebhookEvent } from '../domain/webhook-events';
import { fieldsOf } from './rows';

export interface WebhookRecord {
  id: string;
  url: string;
  /** Event types, or ['*'] for every type. */
  events: string[];
  tenantId: string | null;
  description: string | null;
  createdAt: string;
}

interface WebhookRow {
  id: string;
  url: string;
  events: string;
  tenant_id: string | null;
  description: string | null;
  created_at: string;
}

export function webhookOf(row: WebhookRow): WebhookRecord {
  return { ...fieldsOf(row), events: JSON.parse(row.events) as string[] };
}

/**
 * Whether a live endpoint gets the event: the one a `webhook.test` names does; otherwise every
 * endpoint that takes the event's type and is global or belongs to the event's tenant.
 */
export function takesEvent(webhook: WebhookRecord, event: WebhookEvent): boolean {
  if (event.webhookId !== null) return webhook.id === event.webhookId;
  const ofTenant = webhook.tenantId === null || webhook.tenantId === event.tenantId;
  return ofTenant && (webhook.events.includes('*') || webhook.events.includes(event.type));
}

const COLUMNS = 'id, url, events, tenant_id, description, created_at';

/** An endpoint about to be created, with the secret that signs its deliveries. */
export function insertWebhook(db: D1Database, webhook: WebhookRecord, secret: string): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO webhooks (${COLUMNS}, secret) VALUES (?, ?, ?, ?, ?, ?, ?)`)
    .bind(webhook.id, webhook.url, JSON.stringify(webhook.events), webhook.tenantId, webhook.description, webhook.createdAt, secret);
}

/** A live (not deleted) endpoint, without its secret. */
export async function getWebhook(db: D1Database, id: string): Promise<WebhookRecord | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM webhooks WHERE id = ? AND deleted_at IS NULL`).bind(id).first<WebhookRow>();
  return row ? webhookOf(row) : null;
}

/** Live endpoints in creation order; with `tenantId`, only that tenant's (not the global ones). */
export async function listWebhooks(db: D1Database, tenantId: string | null): Promise<WebhookRecord[]> {
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM webhooks WHERE deleted_at IS NULL AND (?1 IS NULL OR tenant_id = ?1) ORDER BY created_at, id`)
    .bind(tenantId)
    .all<WebhookRow>();
  return results.map(webhookOf);
}

/** Soft delete: the endpoint stops receiving (queued deliveries to it stop too) and keeps its delivery log. */
export function deleteWebhook(db: D1Database, id: string, at: string): D1PreparedStatement {
  return db.prepare('UPDATE webhooks SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL').bind(at, id);
}

export function setWebhookSecret(db: D1Database, id: string, secret: string): D1PreparedStatement {
  return db.prepare('UPDATE webhooks SET secret = ? WHERE id = ? AND deleted_at IS NULL').bind(secret, id);
}

/** Where and with which secret to deliver to a live endpoint; null once it is deleted. */
export async function deliveryTarget(db: D1Database, id: string): Promise<{ url: string; secret: string } | null> {
  return db.prepare('SELECT url, secret FROM webhooks WHERE id = ? AND deleted_at IS NULL').bind(id).first<{ url: string; secret: string }>();
}
