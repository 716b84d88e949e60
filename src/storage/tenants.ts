import { periodKey, periodStart } from '../domain/budget-period';
import { nanoFromDb, type Nano } from '../domain/money';

export type BudgetPeriod = 'none' | 'day' | 'week' | 'month';
export type CacheScope = 'private' | 'shared';

/** Budget and limits shared by tenants and keys. */
export interface Limits {
  budgetNano: Nano | null;
  budgetPeriod: BudgetPeriod;
  rateLimitRpm: number | null;
  maxConcurrent: number | null;
}

export interface TenantRecord extends Limits {
  id: string;
  name: string;
  cacheScope: CacheScope;
  cacheTtlDays: number;
  allowedModels: string[] | null;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface ApiKeyRecord extends Limits {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  expiresAt: string | null;
  disabled: boolean;
  revokedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

interface LimitsRow {
  budget_nano: number | null;
  budget_period: BudgetPeriod;
  rate_limit_rpm: number | null;
  max_concurrent: number | null;
}
interface TenantRow extends LimitsRow {
  id: string;
  name: string;
  cache_scope: CacheScope;
  cache_ttl_days: number;
  allowed_models: string | null;
  disabled: number;
  created_at: string;
  updated_at: string;
}
interface ApiKeyRow extends LimitsRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  expires_at: string | null;
  disabled: number;
  revoked_at: string | null;
  created_at: string;
  updated_at: string;
}

const TENANT_COLUMNS =
  'id, name, budget_nano, budget_period, rate_limit_rpm, max_concurrent, cache_scope, cache_ttl_days, allowed_models, disabled, created_at, updated_at';
const KEY_COLUMNS =
  'id, tenant_id, name, prefix, budget_nano, budget_period, rate_limit_rpm, max_concurrent, expires_at, disabled, revoked_at, created_at, updated_at';

function limitsFromRow(row: LimitsRow): Limits {
  return {
    budgetNano: nanoFromDb(row.budget_nano),
    budgetPeriod: row.budget_period,
    rateLimitRpm: row.rate_limit_rpm,
    maxConcurrent: row.max_concurrent,
  };
}

function tenantFromRow(row: TenantRow): TenantRecord {
  return {
    id: row.id,
    name: row.name,
    ...limitsFromRow(row),
    cacheScope: row.cache_scope,
    cacheTtlDays: row.cache_ttl_days,
    allowedModels: row.allowed_models === null ? null : (JSON.parse(row.allowed_models) as string[]),
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function keyFromRow(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    prefix: row.prefix,
    ...limitsFromRow(row),
    expiresAt: row.expires_at,
    disabled: row.disabled !== 0,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Column values as D1 binds them; undefined means "leave as it is" in an update. */
export type ColumnValues = Record<string, string | number | null | undefined>;

export async function insertTenant(db: D1Database, id: string, columns: ColumnValues, now: string): Promise<TenantRecord> {
  const row = await insertRow<TenantRow>(db, 'tenants', TENANT_COLUMNS, { id, ...columns, created_at: now, updated_at: now });
  return tenantFromRow(row);
}

export async function getTenant(db: D1Database, id: string): Promise<TenantRecord | null> {
  const row = await db.prepare(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = ?`).bind(id).first<TenantRow>();
  return row ? tenantFromRow(row) : null;
}

export async function listTenants(db: D1Database): Promise<TenantRecord[]> {
  const { results } = await db.prepare(`SELECT ${TENANT_COLUMNS} FROM tenants ORDER BY created_at, id`).all<TenantRow>();
  return results.map(tenantFromRow);
}

export async function updateTenant(db: D1Database, id: string, columns: ColumnValues, now: string): Promise<TenantRecord | null> {
  const row = await updateRow<TenantRow>(db, 'tenants', TENANT_COLUMNS, id, columns, now);
  return row ? tenantFromRow(row) : null;
}

export async function insertKey(
  db: D1Database,
  id: string,
  tenantId: string,
  keyHash: string,
  prefix: string,
  columns: ColumnValues,
  now: string,
): Promise<ApiKeyRecord> {
  const row = await insertRow<ApiKeyRow>(db, 'api_keys', KEY_COLUMNS, {
    id,
    tenant_id: tenantId,
    key_hash: keyHash,
    prefix,
    ...columns,
    created_at: now,
    updated_at: now,
  });
  return keyFromRow(row);
}

export async function getKey(db: D1Database, id: string): Promise<ApiKeyRecord | null> {
  const row = await db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`).bind(id).first<ApiKeyRow>();
  return row ? keyFromRow(row) : null;
}

export async function listKeys(db: D1Database, tenantId: string): Promise<ApiKeyRecord[]> {
  const { results } = await db
    .prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id`)
    .bind(tenantId)
    .all<ApiKeyRow>();
  return results.map(keyFromRow);
}

export async function updateKey(db: D1Database, id: string, columns: ColumnValues, now: string): Promise<ApiKeyRecord | null> {
  const row = await updateRow<ApiKeyRow>(db, 'api_keys', KEY_COLUMNS, id, columns, now);
  return row ? keyFromRow(row) : null;
}

/**
 * Tenant auth's lookup: the key by its hash, and its tenant, in one round trip (one D1 batch, so
 * both reads see the same state).
 */
export async function findCallerByKeyHash(
  db: D1Database,
  keyHash: string,
): Promise<{ key: ApiKeyRecord; tenant: TenantRecord } | null> {
  const [keys, tenants] = await db.batch<ApiKeyRow | TenantRow>([
    db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_hash = ?`).bind(keyHash),
    db.prepare(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = (SELECT tenant_id FROM api_keys WHERE key_hash = ?)`).bind(keyHash),
  ]);
  const key = keys?.results[0] as ApiKeyRow | undefined;
  const tenant = tenants?.results[0] as TenantRow | undefined;
  return key && tenant ? { key: keyFromRow(key), tenant: tenantFromRow(tenant) } : null;
}

async function insertRow<Row>(db: D1Database, table: string, returning: string, values: ColumnValues): Promise<Row> {
  const entries = Object.entries(values).filter(([, v]) => v !== undefined);
  const sql = `INSERT INTO ${table} (${entries.map(([k]) => k).join(', ')}) VALUES (${entries.map(() => '?').join(', ')}) RETURNING ${returning}`;
  const row = await db
    .prepare(sql)
    .bind(...entries.map(([, v]) => v ?? null))
    .first<Row>();
  if (!row) throw new Error(`insert into ${table} returned no row`);
  return row;
}

async function updateRow<Row>(
  db: D1Database,
  table: 'tenants' | 'api_keys',
  returning: string,
  id: string,
  values: ColumnValues,
  now: string,
): Promise<Row | null> {
  const entries = Object.entries({ ...values, updated_at: now }).filter(([, v]) => v !== undefined);
  const sql = `UPDATE ${table} SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ? RETURNING ${returning}`;
  const update = db.prepare(sql).bind(...entries.map(([, v]) => v ?? null), id);
  const period = values.budget_period;
  if (typeof period !== 'string') return update.first<Row>();
  // CONTRACT §4: the ledger sums to what the budget says was spent. A budget that changes its
  // period (month → day, say) has spent what the ledger holds since the new period began, not 0:
  // otherwise switching back and forth would buy a fresh budget. Same batch, so no reserve or
  // settle sees the new period with a stale spent_nano.
  const budgetPeriod = period as BudgetPeriod;
  const at = Date.parse(now);
  const owner = table === 'tenants' ? 'tenant_id' : 'key_id';
  const respend = db
    .prepare(
      `UPDATE ${table} SET spent_nano = (SELECT COALESCE(SUM(cost_nano), 0) FROM usage_ledger WHERE ${owner} = ?1 AND created_at >= ?2),
         period_key = ?3 WHERE id = ?1 RETURNING ${returning}`,
    )
    .bind(id, new Date(periodStart(budgetPeriod, at)).toISOString(), periodKey(budgetPeriod, at));
  const [, after] = await db.batch<Row>([update, respend]);
  return after?.results[0] ?? null;
}
