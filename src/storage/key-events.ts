/**
 * Key events in the webhook outbox (docs/webhooks.md, "Events and when they fire"): `key.created`,
 * `key.revoked` and `key.rotated` ride in the batch of the admin change and its audit entry;
 * `key.expiring` is found by the cron.
 */
import type { AuditActor } from '../domain/audit';
import { DAY_MS } from '../domain/time';

/** The new id of an event, as the budget triggers of migrations/0009 make it. */
const NEW_EVENT_ID = "'msg_' || lower(hex(randomblob(16)))";

export interface KeyEvent {
  type: 'key.created' | 'key.revoked' | 'key.rotated';
  tenantId: string;
  keyId: string;
  name: string;
  /** The key's display prefix after the change (a rotation's new one). */
  prefix: string;
  actor: AuditActor;
  occurredAt: number;
}

/**
 * The statement that records a key event, for the end of `commitAudited`'s batch: it inserts only
 * when the statement before it (the audit entry) did, that is when the change was made — a revoke
 * that lost a race to another revoke records neither an entry nor an event.
 */
export function keyEventStatement(db: D1Database, event: KeyEvent): D1PreparedStatement {
  const data = { tenant_id: event.tenantId, key_id: event.keyId, name: event.name, prefix: event.prefix, actor: event.actor };
  return db
    .prepare(
      `INSERT INTO webhook_events (id, type, tenant_id, webhook_id, data, occurred_at, once_key)
       SELECT ${NEW_EVENT_ID}, ?, ?, NULL, ?, ?, NULL WHERE changes() > 0`,
    )
    .bind(event.type, event.tenantId, JSON.stringify(data), event.occurredAt);
}

/** How long before a key's expires_at its `key.expiring` event fires. */
export const EXPIRY_WARNING_MS = 7 * DAY_MS;

/**
 * Records one `key.expiring` event for every live key that expires within the next 7 days, once
 * per key and expiry (once_key 'expiring:<key id>:<expires_at>': an admin who moves the expiry gets
 * a new warning for the new date). One statement whatever the number of keys. Answers how many.
 */
export async function recordExpiringKeys(db: D1Database, now: number): Promise<number> {
  const result = await db
    .prepare(
      `INSERT INTO webhook_events (id, type, tenant_id, webhook_id, data, occurred_at, once_key)
       SELECT ${NEW_EVENT_ID}, 'key.expiring', tenant_id, NULL,
              json_object('tenant_id', tenant_id, 'key_id', id, 'name', name, 'expires_at', expires_at),
              ?3, 'expiring:' || id || ':' || expires_at
       FROM api_keys
       WHERE revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at > ?1 AND expires_at <= ?2
       ON CONFLICT DO NOTHING`,
    )
    .bind(new Date(now).toISOString(), new Date(now + EXPIRY_WARNING_MS).toISOString(), now)
    .run();
  return result.meta.changes ?? 0;
}
