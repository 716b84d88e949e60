/**
 * Budget events in the webhook outbox (docs/webhooks.md, "Events and when they fire").
 * `budget.threshold` is recorded by the triggers of migrations/0009, inside the statement that
 * moves spend; `budget.refused` is recorded here, because the refusal it reports is an aborted
 * batch that can carry no write of its own.
 */
import { formatUsd, type Nano } from '../domain/money';

/** A nano-USD column as the API writes USD ("0.001992295", "25"): the same text as `formatUsd`. */
function usdSql(column: string): string {
  return `printf('%d', ${column} / 1000000000) || rtrim(rtrim(printf('.%09d', ${column} % 1000000000), '0'), '.')`;
}

/** When the period named by `periodKey` ('month:2026-11-01') ends, ISO 8601 UTC; NULL for 'none'. */
function resetsAtSql(period: string, periodKey: string): string {
  const start = `substr(${periodKey}, instr(${periodKey}, ':') + 1)`;
  const step = `CASE ${period} WHEN 'day' THEN '+1 day' WHEN 'week' THEN '+7 days' ELSE '+1 month' END`;
  return `CASE ${period} WHEN 'none' THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', ${start}, ${step}) END`;
}

export interface RefusedEvent {
  scope: 'key' | 'tenant';
  /** The refused budget's row: the key's or the tenant's id. */
  ownerId: string;
  requestCostNano: Nano;
  occurredAt: number;
}

/**
 * The statement that records a period's first `budget.refused` of a key or tenant (once_key
 * 'refused:<scope>:<id>:<period_key>'); later refusals in the period change no row. `currentPeriod`
 * and `spentThisPeriod` are SQL for the row's period key and spend now (src/storage/reservations.ts),
 * reading the period keys `periodKeys` binds to ?3 ?4 ?5. The id is made like the triggers' ids.
 */
export function refusedEventStatement(
  db: D1Database,
  event: RefusedEvent,
  sql: { currentPeriod: string; spentThisPeriod: string },
  periodKeys: [string, string, string],
): D1PreparedStatement {
  const table = event.scope === 'key' ? 'api_keys' : 'tenants';
  const tenantColumn = event.scope === 'key' ? 'tenant_id' : 'id';
  const keyColumn = event.scope === 'key' ? 'id' : 'NULL';
  const data = `json_object(
      'scope', ?6, 'tenant_id', ${tenantColumn}, 'key_id', ${keyColumn}, 'name', name, 'threshold_percent', NULL,
      'budget_usd', ${usdSql('budget_nano')}, 'spent_usd', ${usdSql(sql.spentThisPeriod)},
      'period', budget_period, 'period_resets_at', ${resetsAtSql('budget_period', sql.currentPeriod)}, 'request_cost_usd', ?7)`;
  return db
    .prepare(
      `INSERT INTO webhook_events (id, type, tenant_id, webhook_id, data, occurred_at, once_key)
       SELECT 'msg_' || lower(hex(randomblob(16))), 'budget.refused', ${tenantColumn}, NULL, ${data}, ?8, 'refused:' || ?6 || ':' || id || ':' || ${sql.currentPeriod}
       FROM ${table} WHERE id = ?1 AND budget_nano IS NOT NULL
       ON CONFLICT DO NOTHING`,
    )
    .bind(event.ownerId, null, ...periodKeys, event.scope, formatUsd(event.requestCostNano), event.occurredAt);
}
