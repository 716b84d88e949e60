import type { Caller } from '../domain/tenants';
import { periodStart, type BudgetState } from '../domain/budget-period';
import { nanoFromDb, type Nano } from '../domain/money';
import { STATE_COLUMNS, stateFromRow, type StateRow } from './budget-snapshot';

/** Reading the usage ledger and the budget rows (`GET /v1/usage` in docs/generation.md, `GET /admin/usage` in docs/admin.md). */

export interface UsageCounts {
  requests: number;
  cacheHits: number;
  coalesced: number;
  /** The list cost of the hits and merged followers: what the cache saved. */
  savedNano: Nano;
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
  coalesced: number | null;
  saved_nano: number | null;
}

const STATE_SQL = `SELECT id, ${STATE_COLUMNS} FROM`;
const COUNT_SQL = `SELECT COUNT(*) AS requests, SUM(l.cache IN ('hit', 'coalesced') AND l.status = 'ok') AS cache_hits,
  SUM(l.cache = 'coalesced' AND l.status = 'ok') AS coalesced,
  SUM(CASE WHEN l.cache IN ('hit', 'coalesced') AND l.status = 'ok' THEN l.list_cost_nano ELSE 0 END) AS saved_nano
  FROM usage_ledger l`;

/**
 * The caller's key and tenant: budget rows and this period's ledger counts, in one round trip.
 * Each count starts at its own row's period (the key's may be a day while the tenant's is a month).
 */
export async function callerUsage(db: D1Database, caller: Caller, now: number): Promise<{ key: BudgetUsage; tenant: BudgetUsage }> {
  const since = (period: BudgetState['budgetPeriod']) => new Date(periodStart(period, now)).toISOString();
  const [k, t, kc, tc] = await db.batch<StateRowWithId | CountRow>([
    db.prepare(`${STATE_SQL} api_keys WHERE id = ?`).bind(caller.key.id),
    db.prepare(`${STATE_SQL} tenants WHERE id = ?`).bind(caller.tenant.id),
    db.prepare(`${COUNT_SQL} WHERE l.key_id = ? AND l.created_at >= ?`).bind(caller.key.id, since(caller.key.budgetPeriod)),
    db.prepare(`${COUNT_SQL} WHERE l.tenant_id = ? AND l.created_at >= ?`).bind(caller.tenant.id, since(caller.tenant.budgetPeriod)),
  ]);
  const keyRow = k?.results[0] as StateRowWithId | undefined;
  const tenantRow = t?.results[0] as StateRowWithId | undefined;
  if (!keyRow || !tenantRow) throw new Error('the caller’s key or tenant row is missing');
  const counts = (r: D1Result<StateRowWithId | CountRow> | undefined): UsageCounts => {
    const row = r?.results[0] as CountRow | undefined;
    return {
      requests: row?.requests ?? 0,
      cacheHits: row?.cache_hits ?? 0,
      coalesced: row?.coalesced ?? 0,
      savedNano: nanoFromDb(row?.saved_nano ?? 0) ?? 0n,
    };
  };
  return {
    key: { id: keyRow.id, name: keyRow.name, state: stateFromRow(keyRow), counts: counts(kc) },
    tenant: { id: tenantRow.id, name: tenantRow.name, state: stateFromRow(tenantRow), counts: counts(tc) },
  };
}

/** A report's groups: a column of the ledger, or the value of one tag (`tag:project`; rows without it form the group ""). */
export type UsageGroupBy = 'day' | 'key' | 'model' | 'tenant' | `tag:${string}`;

export interface TagFilter {
  name: string;
  value: string;
}

export interface UsageFilter {
  tenantId?: string;
  keyId?: string;
  /** Inclusive lower bound, an ISO 8601 UTC time. */
  fromIso?: string;
  /** Exclusive upper bound, an ISO 8601 UTC time. */
  beforeIso?: string;
  /** Every one must match: the generation carries each tag with that value. */
  tags?: TagFilter[];
}

export interface UsageRow {
  group: string;
  requests: number;
  cacheHits: number;
  /** Merged followers served the image of an identical request in flight. */
  coalesced: number;
  failed: number;
  costNano: Nano;
  /** What the hits and merged followers would have cost at the origin (their list cost). */
  savedNano: Nano;
}

const GROUP_EXPR: Record<Exclude<UsageGroupBy, `tag:${string}`>, string> = {
  day: 'substr(l.created_at, 1, 10)',
  key: 'l.key_id',
  model: 'l.model',
  tenant: 'l.tenant_id',
};

/** A served hit or merged follower: what the cache saved. */
const SERVED_FREE = "l.cache IN ('hit', 'coalesced') AND l.status = 'ok'";
const SUMS = `COUNT(*) AS requests, SUM(${SERVED_FREE}) AS cache_hits, SUM(l.cache = 'coalesced' AND l.status = 'ok') AS coalesced,
  SUM(l.status <> 'ok') AS failed, SUM(l.cost_nano) AS cost_nano, SUM(CASE WHEN ${SERVED_FREE} THEN l.list_cost_nano ELSE 0 END) AS saved_nano`;

interface SumRow {
  grp: string;
  requests: number;
  cache_hits: number;
  coalesced: number;
  failed: number;
  cost_nano: number;
  saved_nano: number;
}

/**
 * The FROM and WHERE of a report. With tag filters the first one drives the query: its rows are read
 * from ledger_tags' index (tenant, name, value, time), CROSS JOIN keeping SQLite from starting at the
 * ledger instead, and each ledger row is then found by its generation id; any further filter is a
 * primary-key lookup. Without one, the ledger is read by its (tenant, time) index.
 */
function sourceOf(filter: UsageFilter): { from: string; where: string; args: string[] } {
  const where: string[] = [];
  const args: string[] = [];
  const clause = (sql: string, ...values: string[]) => (where.push(sql), args.push(...values));
  const [first, ...rest] = filter.tags ?? [];
  const table = first ? 'f' : 'l';
  if (first) clause('f.name = ? AND f.value = ?', first.name, first.value);
  if (filter.tenantId !== undefined) clause(`${table}.tenant_id = ?`, filter.tenantId);
  if (filter.fromIso !== undefined) clause(`${table}.created_at >= ?`, filter.fromIso);
  if (filter.beforeIso !== undefined) clause(`${table}.created_at < ?`, filter.beforeIso);
  if (filter.keyId !== undefined) clause('l.key_id = ?', filter.keyId);
  for (const tag of rest) {
    clause('EXISTS (SELECT 1 FROM ledger_tags t WHERE t.generation_id = l.generation_id AND t.name = ? AND t.value = ?)', tag.name, tag.value);
  }
  const from = first ? 'ledger_tags f CROSS JOIN usage_ledger l ON l.generation_id = f.generation_id' : 'usage_ledger l';
  return { from, where: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
}

/** The ledger summed per group. `failed` counts generations that ended without an image. */
export async function usageReport(db: D1Database, filter: UsageFilter, groupBy: UsageGroupBy): Promise<UsageRow[]> {
  const tagName = groupBy.startsWith('tag:') ? groupBy.slice('tag:'.length) : null;
  const group = tagName === null ? GROUP_EXPR[groupBy as keyof typeof GROUP_EXPR] : "COALESCE(g.value, '')";
  const join = tagName === null ? '' : 'LEFT JOIN ledger_tags g ON g.generation_id = l.generation_id AND g.name = ?';
  const source = sourceOf(filter);
  const { results } = await db
    .prepare(`SELECT ${group} AS grp, ${SUMS} FROM ${source.from} ${join} ${source.where} GROUP BY grp ORDER BY grp`)
    .bind(...(tagName === null ? [] : [tagName]), ...source.args)
    .all<SumRow>();
  return results.map((r) => ({
    group: r.grp,
    requests: r.requests,
    cacheHits: r.cache_hits,
    coalesced: r.coalesced,
    failed: r.failed,
    costNano: nanoFromDb(r.cost_nano) ?? 0n,
    savedNano: nanoFromDb(r.saved_nano) ?? 0n,
  }));
}

/** The rows' sums: a report's `total`. */
export function usageTotal(rows: UsageRow[]): Omit<UsageRow, 'group'> {
  return rows.reduce(
    (t, r) => ({
      requests: t.requests + r.requests,
      cacheHits: t.cacheHits + r.cacheHits,
      coalesced: t.coalesced + r.coalesced,
      failed: t.failed + r.failed,
      costNano: t.costNano + r.costNano,
      savedNano: t.savedNano + r.savedNano,
    }),
    { requests: 0, cacheHits: 0, coalesced: 0, failed: 0, costNano: 0n, savedNano: 0n },
  );
}
