import type { Caller } from '../domain/tenants';
import { periodStart, type BudgetState } from '../domain/budget-period';
import { nanoFromDb, type Nano } from '../domain/money';
import { STATE_COLUMNS, stateFromRow, type StateRow } from './budget-snapshot';

/** Reading the usage ledger and the budget rows (`GET /v1/usage` in docs/generation.md, `GET /admin/usage` in docs/admin.md). */

export interface UsageCounts {
  requests: number;
  cacheHits: number;
}

export interface BudgetUsage {
  id: string;
  name: string;
  state: BudgetState;
  counts: UsageCounts;
}

interface StateRowWithId extends StateRow {
  id: string;
}
interface CountRow {
  requests: number;
  cache_hits: number | null;
}

const STATE_SQL = `SELECT id, ${STATE_COLUMNS} FROM`;
const COUNT_SQL = "SELECT COUNT(*) AS requests, SUM(cache IN ('hit', 'coalesced') AND status = 'ok') AS cache_hits FROM usage_ledger";

/**
 * The caller's key and tenant: budget rows and this period's ledger counts, in one round trip.
 * Each count starts at its own row's period (the key's may be a day while the tenant's is a month).
 */
export async function callerUsage(db: D1Database, caller: Caller, now: number): Promise<{ key: BudgetUsage; tenant: BudgetUsage }> {
  const since = (period: BudgetState['budgetPeriod']) => new Date(periodStart(period, now)).toISOString();
  const [k, t, kc, tc] = await db.batch<StateRowWithId | CountRow>([
    db.prepare(`${STATE_SQL} api_keys WHERE id = ?`).bind(caller.key.id),
    db.prepare(`${STATE_SQL} tenants WHERE id = ?`).bind(caller.tenant.id),
    db.prepare(`${COUNT_SQL} WHERE key_id = ? AND created_at >= ?`).bind(caller.key.id, since(caller.key.budgetPeriod)),
    db.prepare(`${COUNT_SQL} WHERE tenant_id = ? AND created_at >= ?`).bind(caller.tenant.id, since(caller.tenant.budgetPeriod)),
  ]);
  const keyRow = k?.results[0] as StateRowWithId | undefined;
  const tenantRow = t?.results[0] as StateRowWithId | undefined;
  if (!keyRow || !tenantRow) throw new Error('the caller’s key or tenant row is missing');
  const counts = (r: D1Result<StateRowWithId | CountRow> | undefined): UsageCounts => {
    const row = r?.results[0] as CountRow | undefined;
    return { requests: row?.requests ?? 0, cacheHits: row?.cache_hits ?? 0 };
  };
  return {
    key: { id: keyRow.id, name: keyRow.name, state: stateFromRow(keyRow), counts: counts(kc) },
    tenant: { id: tenantRow.id, name: tenantRow.name, state: stateFromRow(tenantRow), counts: counts(tc) },
  };
}

export type UsageGroupBy = 'day' | 'key' | 'model' | 'tenant';

export interface UsageFilter {
  tenantId?: string;
  keyId?: string;
  /** Inclusive lower bound, an ISO 8601 UTC time. */
  fromIso?: string;
  /** Exclusive upper bound, an ISO 8601 UTC time. */
  beforeIso?: string;
}

export interface UsageRow {
  group: string;
  requests: number;
  cacheHits: number;
  failed: number;
  costNano: Nano;
}

const GROUP_EXPR: Record<UsageGroupBy, string> = {
  day: 'substr(created_at, 1, 10)',
  key: 'key_id',
  model: 'model',
  tenant: 'tenant_id',
};

/** The ledger summed per group. `failed` counts generations that ended without an image. */
export async function usageReport(db: D1Database, filter: UsageFilter, groupBy: UsageGroupBy): Promise<UsageRow[]> {
  const where: string[] = [];
  const args: string[] = [];
  if (filter.tenantId !== undefined) (where.push('tenant_id = ?'), args.push(filter.tenantId));
  if (filter.keyId !== undefined) (where.push('key_id = ?'), args.push(filter.keyId));
  if (filter.fromIso !== undefined) (where.push('created_at >= ?'), args.push(filter.fromIso));
  if (filter.beforeIso !== undefined) (where.push('created_at < ?'), args.push(filter.beforeIso));
  const { results } = await db
    .prepare(
      `SELECT ${GROUP_EXPR[groupBy]} AS grp, COUNT(*) AS requests, SUM(cache IN ('hit', 'coalesced') AND status = 'ok') AS cache_hits,
              SUM(status <> 'ok') AS failed, SUM(cost_nano) AS cost_nano
       FROM usage_ledger ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       GROUP BY grp ORDER BY grp`,
    )
    .bind(...args)
    .all<{ grp: string; requests: number; cache_hits: number; failed: number; cost_nano: number }>();
  return results.map((r) => ({
    group: r.grp,
    requests: r.requests,
    cacheHits: r.cache_hits,
    failed: r.failed,
    costNano: nanoFromDb(r.cost_nano) ?? 0n,
  }));
}
