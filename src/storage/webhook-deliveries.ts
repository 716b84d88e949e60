/**
 * The delivery log (docs/webhooks.md): one row per attempt to deliver an event to an endpoint.
 */

export interface DeliveryAttempt {
  webhookId: string;
  eventId: string;
  /** 1-based: the queue message's attempt count. */
  attempt: number;
  at: string;
  /** The receiver's HTTP status; null when it never answered (timeout, connection error). */
  responseStatus: number | null;
  ok: boolean;
  error: string | null;
  /** When the next attempt is due; null once delivered or failed for good. */
  nextAttemptAt: string | null;
}

/** An attempt as the log lists it, with its event's type. */
export interface LoggedDelivery extends DeliveryAttempt {
  type: string;
}

/**
 * Records one attempt. The queue delivers at least once, so the same attempt may run twice: the
 * later run's outcome replaces the earlier one's rather than failing on the key.
 */
export async function recordAttempt(db: D1Database, a: DeliveryAttempt): Promise<void> {
  await db
    .prepare(
      `INSERT INTO webhook_deliveries (webhook_id, event_id, attempt, at, response_status, ok, error, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (webhook_id, event_id, attempt) DO UPDATE SET
         at = excluded.at, response_status = excluded.response_status, ok = excluded.ok,
         error = excluded.error, next_attempt_at = excluded.next_attempt_at`,
    )
    .bind(a.webhookId, a.eventId, a.attempt, a.at, a.responseStatus, a.ok ? 1 : 0, a.error, a.nextAttemptAt)
    .run();
}

interface DeliveryRow {
  webhook_id: string;
  event_id: string;
  type: string | null;
  attempt: number;
  at: string;
  response_status: number | null;
  ok: number;
  error: string | null;
  next_attempt_at: string | null;
}

/** An endpoint's attempts, newest first. */
export async function listDeliveries(db: D1Database, webhookId: string, limit: number): Promise<LoggedDelivery[]> {
  const { results } = await db
    .prepare(
      `SELECT d.webhook_id, d.event_id, e.type, d.attempt, d.at, d.response_status, d.ok, d.error, d.next_attempt_at
       FROM webhook_deliveries d LEFT JOIN webhook_events e ON e.id = d.event_id
       WHERE d.webhook_id = ? ORDER BY d.at DESC, d.attempt DESC LIMIT ?`,
    )
    .bind(webhookId, limit)
    .all<DeliveryRow>();
  return results.map((r) => ({
    webhookId: r.webhook_id,
    eventId: r.event_id,
    type: r.type ?? 'unknown',
    attempt: r.attempt,
    at: r.at,
    responseStatus: r.response_status,
    ok: r.ok === 1,
    error: r.error,
    nextAttemptAt: r.next_attempt_at,
  }));
}
