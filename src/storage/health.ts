import { periodKeys, periodStart } from '../domain/budget-period';

/**
 * What `GET /admin/health` reads from D1 (docs/operations.md): the reservations still open, and
 * whether the usage ledger agrees with the spent counters.
 */

export interface OpenReservations {
  open: number;
  /** When the oldest one was made, in ms since the epoch; null when none is open. */
  oldestAt: number | null;
}

export async function openReservations(db: D1Database): Promise<OpenReservations> {
  const row = await db.prepare('SELECT COUNT(*) AS open, MIN(created_at) AS oldest FROM reservations').first<{ open: number; oldest: string | null }>();
  const oldestAt = row?.oldest ? Date.parse(row.oldest) : NaN;
  return { open: row?.open ?? 0, oldestAt: Number.isFinite(oldestAt) ? oldestAt : null };
}

/**
 * How many rows of `table` disagree with the ledger: for each key (or tenant), the sum of its
 * ledger rows since the start of its own current budget period against the spent_nano of that
 * period (a row whose period_key is an earlier period has spent nothing yet). One query per table:
 * each row's period start is chosen in SQL from its budget_period. ?1–?3 are the current period
 * keys, ?4–?6 the current periods' starts (ISO text, as the ledger's created_at sorts).
 */
function mismatchQuery(table: 'api_keys' | 'tenants', column: 'key_id' | 'tenant_id'): string {
  return `SELECT COUNT(*) AS mismatched FROM ${table} AS b
    WHERE (CASE WHEN b.period_key IS (CASE b.budget_period WHEN 'day' THEN ?1 WHEN 'week' THEN ?2 WHEN 'month' THEN ?3 ELSE 'none' END)
                THEN b.spent_nano ELSE 0 END)
       != COALESCE((SELECT SUM(l.cost_nano) FROM usage_ledger AS l WHERE l.${column} = b.id
            AND l.created_at >= (CASE b.budget_period WHEN 'day' THEN ?4 WHEN 'week' THEN ?5 WHEN 'month' THEN ?6 ELSE '' END)), 0)`;
}

/** Whether, for every key and every tenant, the current period's ledger sum equals spent_nano. */
export async function ledgerMatchesSpent(db: D1Database, now: number): Promise<boolean> {
  const keys = periodKeys(now);
  const start = (period: 'day' | 'week' | 'month') => new Date(periodStart(period, now)).toISOString();
  const args = [keys.day, keys.week, keys.month, start('day'), start('week'), start('month')];
  const [keyRows, tenantRows] = await db.batch<{ mismatched: number }>([
    db.prepare(mismatchQuery('api_keys', 'key_id')).bind(...args),
    db.prepare(mismatchQuery('tenants', 'tenant_id')).bind(...args),
  ]);
  return (keyRows?.results[0]?.mismatched ?? 1) === 0 && (tenantRows?.results[0]?.mismatched ?? 1) === 0;
}
