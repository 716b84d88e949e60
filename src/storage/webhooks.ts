/**
 * Webhook endpoints (docs/webhooks.md).
 */
import type { WebhookEvent } from '../domain/webhook-events';

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
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    tenantId: row.tenant_id,
    description: row.description,
    createdAt: row.created_at,
  };
}

/**
 * The live endpoints an event goes to: the one a `webhook.test` names; otherwise every endpoint
 * that takes the event's type and is global or belongs to the event's tenant.
 */
export async function endpointsFor(db: D1Database, event: WebhookEvent): Promise<WebhookRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT id, url, events, tenant_id, description, created_at FROM webhooks
       WHERE deleted_at IS NULL
         AND (CASE WHEN ?1 IS NOT NULL THEN id = ?1
              ELSE (tenant_id IS NULL OR tenant_id = ?2)
                AND EXISTS (SELECT 1 FROM json_each(webhooks.events) WHERE value IN ('*', ?3)) END)`,
    )
    .bind(event.webhookId, event.tenantId, event.type)
    .all<WebhookRow>();
  return results.map(webhookOf);
}
