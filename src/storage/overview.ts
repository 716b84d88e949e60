import { periodStart, type BudgetState } from '../domain/budget-period';
import { nanoFromDb, type Nano } from '../domain/money';
import { STATE_COLUMNS, stateFromRow, type StateRow } from './budget-snapshot';
import { fieldsOf } from './rows';

/**
 * What the console's overview and `GET /admin/metrics` read (docs/console.md): each tenant's
 * budget row with its generations of the current budget period, counted per cache word and status,
 * and the failed generations per origin. One query per question, whatever the number of tenants.
 */

export interface GenerationCount {
  cache: string;
  /** `ok`, an error code, or `expired`. */
  status: string;
  count: number;
  costNano: Nano;
  /** The list cost of served hits and merged followers: what the cache saved. */
  savedNano: Nano;
}

export interface TenantPeriod {
  id: string;
  name: string;
  state: BudgetState;
  generations: GenerationCount[];
}

interface PeriodRow extends StateRow {
  id: string;
  cache: string | null;
  status: string | null;
  n: number;
  cost_nano: number | null;
  saved_nano: number | null;
}

/**
 * Each tenant's ledger rows since the start of its own current period (?1–?3: the day's, week's and
 * month's starts as ISO text); a tenant without a period counts from the beginning.
 */
const PERIOD_SQL = `SELECT t.id, ${STATE_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ')},
  l.cache, l.status, COUNT(l.id) AS n, SUM(l.cost_nano) AS cost_nano,
  SUM(CASE WHEN l.cache IN ('hit', 'coalesced') AND l.status = 'ok' THEN l.list_cost_nano ELSE 0 END) AS saved_nano
  FROM tenants t LEFT JOIN usage_ledger l ON l.tenant_id = t.id
    AND l.created_at >= (CASE t.budget_period WHEN 'day' THEN ?1 WHEN 'week' THEN ?2 WHEN 'month' THEN ?3 ELSE '' END)`;

/** Every tenant (or only `tenantId`), in creation order, with its generations this period. */
export async function tenantPeriods(db: D1Database, now: number, tenantId: string | null): Promise<TenantPeriod[]> {
  const start = (period: 'day' | 'week' | 'month') => new Date(periodStart(period, now)).toISOString();
  const where = tenantId === null ? '' : 'WHERE t.id = ?4';
  const binds = [start('day'), start('week'), start('month'), ...(tenantId === null ? [] : [tenantId])];
  const { results } = await db
    .prepare(`${PERIOD_SQL} ${where} GROUP BY t.id, l.cache, l.status ORDER BY t.created_at, t.id, l.cache, l.status`)
    .bind(...binds)
    .all<PeriodRow>();
  const byId = new Map<string, TenantPeriod>();
  for (const row of results) {
    let tenant = byId.get(row.id);
    if (!tenant) byId.set(row.id, (tenant = { id: row.id, name: row.name, state: stateFromRow(row), generations: [] }));
    if (row.cache === null || row.status === null) continue; // the LEFT JOIN's row for a tenant with none
    tenant.generations.push({
      cache: row.cache,
      status: row.status,
      count: row.n,
      costNano: nanoFromDb(row.cost_nano) ?? 0n,
      savedNano: nanoFromDb(row.saved_nano) ?? 0n,
    });
  }
  return [...byId.values()];
}

export interface OriginFailures {
  /** The origin's name; `none` when no origin answered at all. */
  origin: string;
  failed: number;
  total: number;
}

/** Generations since `fromIso` per origin, with how many of them failed; the most failures first. */
export async function failuresByOrigin(db: D1Database, fromIso: string, tenantId: string | null): Promise<OriginFailures[]> {
  const where = tenantId === null ? 'WHERE created_at >= ?' : 'WHERE tenant_id = ? AND created_at >= ?';
  const { results } = await db
    .prepare(
      `SELECT COALESCE(origin, 'none') AS origin, SUM(status <> 'ok') AS failed, COUNT(*) AS total
       FROM usage_ledger ${where} GROUP BY COALESCE(origin, 'none') ORDER BY failed DESC, origin`,
    )
    .bind(...(tenantId === null ? [fromIso] : [tenantId, fromIso]))
    .all<{ origin: string; failed: number; total: number }>();
  return results.map((r) => ({ origin: r.origin, failed: r.failed, total: r.total }));
}

export interface RecentGeneration {
  generationId: string;
  imageId: string;
  imageKey: string | null;
  keyId: string;
  model: string;
  width: number;
  height: number;
  steps: number;
  costNano: Nano;
  cache: string;
  createdAt: string;
}

interface RecentRow {
  generation_id: string;
  image_id: string;
  image_key: string | null;
  key_id: string;
  model: string;
  width: number;
  height: number;
  steps: number;
  cost_nano: number;
  cache: string;
  created_at: string;
}

/** A tenant's latest generations that produced an image, newest first. */
export async function recentImages(db: D1Database, tenantId: string, limit: number): Promise<RecentGeneration[]> {
  const { results } = await db
    .prepare(
      `SELECT generation_id, image_id, image_key, key_id, model, width, height, steps, cost_nano, cache, created_at
       FROM usage_ledger WHERE tenant_id = ? AND status = 'ok' AND image_id IS NOT NULL
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    )
    .bind(tenantId, limit)
    .all<RecentRow>();
  return results.map((r) => ({ ...fieldsOf(r), costNano: nanoFromDb(r.cost_nano) ?? 0n }));
}

export interface ImageFacts {
  seed: string | null;
  /** The start of the prompt, when the image's object recorded it (cache entries do). */
  prompt: string | null;
}

/** What the image's R2 object says of it (its custom metadata), without reading its bytes. */
export async function imageFacts(bucket: R2Bucket, imageKey: string | null): Promise<ImageFacts> {
  const head = imageKey ? await bucket.head(imageKey) : null;
  const meta = head?.customMetadata ?? {};
  return { seed: meta.seed ?? null, prompt: meta.prompt ?? null };
}

/** The tag names a tenant's generations carry since `fromIso`, for the console's "usage by tag". */
export async function tagNames(db: D1Database, tenantId: string, fromIso: string): Promise<string[]> {
  const { results } = await db
    .prepare('SELECT DISTINCT name FROM ledger_tags WHERE tenant_id = ? AND created_at >= ? ORDER BY name LIMIT 50')
    .bind(tenantId, fromIso)
    .all<{ name: string }>();
  return results.map((r) => r.name);
}
