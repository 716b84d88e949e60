import { periodKey, periodStart, type BudgetPeriod } from '../domain/budget-period';
import { nanoFromDb, nanoToDb, type Nano } from '../domain/money';
import type { ApiKeyRecord, Caller, CacheScope, Limits, TenantRecord } from '../domain/tenants';

/**
 * Tenants and their API keys in D1 (docs/admin.md). Callers speak records and patches; the column
 * names and their encodings (nano-USD as INTEGER, booleans as 0/1, model lists as JSON) stay here.
 */

/** A change to a budget and its limits; an absent field is left as it is, null clears it. */
export interface LimitsPatch {
  budgetNano?: Nano | null;
  budgetPeriod?: BudgetPeriod;
  rateLimitRpm?: number | null;
  maxConcurrent?: number | null;
}

export interface TenantPatch extends LimitsPatch {
  name?: string;
  cacheScope?: CacheScope;
  cacheTtlDays?: number;
  allowedModels?: string[] | null;
  disabled?: boolean;
}

export interface KeyPatch extends LimitsPatch {
  name?: string;
  /** ISO 8601 UTC time, or null for a key that never expires. */
  expiresAt?: string | null;
  disabled?: boolean;
}

/** A new tenant or key: a patch with a name; the table's defaults fill what it leaves out. */
export type NewTenant = TenantPatch & { name: string };
export type NewKey = KeyPatch & { name: string };

/** How a key is found and shown: its hash (never its plaintext) and its display prefix. */
export interface KeySecret {
  keyHash: string;
  prefix: string;
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
type Columns = Record<string, string | number | null | undefined>;

/** A patch field as its column holds it: undefined stays undefined (not written), null stays null. */
function encoded<T>(value: T | null | undefined, encode: (v: T) => string | number): string | number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  return encode(value);
}

const bit = (b: boolean) => (b ? 1 : 0);

function limitColumns(patch: LimitsPatch): Columns {
  return {
    budget_nano: encoded(patch.budgetNano, nanoToDb),
    budget_period: patch.budgetPeriod,
    rate_limit_rpm: patch.rateLimitRpm,
    max_concurrent: patch.maxConcurrent,
  };
}

function tenantColumns(patch: TenantPatch): Columns {
  return {
    name: patch.name,
    ...limitColumns(patch),
    cache_scope: patch.cacheScope,
    cache_ttl_days: patch.cacheTtlDays,
    allowed_models: encoded(patch.allowedModels, (models) => JSON.stringify(models)),
    disabled: encoded(patch.disabled, bit),
  };
}

function keyColumns(patch: KeyPatch): Columns {
  return {
    name: patch.name,
    ...limitColumns(patch),
    expires_at: patch.expiresAt,
    disabled: encoded(patch.disabled, bit),
  };
}

export async function insertTenant(db: D1Database, id: string, tenant: NewTenant, now: string): Promise<TenantRecord> {
  const row = await insertRow<TenantRow>(db, 'tenants', TENANT_COLUMNS, { id, ...tenantColumns(tenant), created_at: now, updated_at: now });
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

export async function updateTenant(db: D1Database, id: string, patch: TenantPatch, now: string): Promise<TenantRecord | null> {
  const row = await updateRow<TenantRow>(db, 'tenants', TENANT_COLUMNS, id, tenantColumns(patch), now, patch.budgetPeriod);
  return row ? tenantFromRow(row) : null;
}

export async function insertKey(
  db: D1Database,
  id: string,
  tenantId: string,
  secret: KeySecret,
  key: NewKey,
  now: string,
): Promise<ApiKeyRecord> {
  const row = await insertRow<ApiKeyRow>(db, 'api_keys', KEY_COLUMNS, {
    id,
    tenant_id: tenantId,
    key_hash: secret.keyHash,
    prefix: secret.prefix,
    ...keyColumns(key),
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

export async function updateKey(db: D1Database, id: string, patch: KeyPatch, now: string): Promise<ApiKeyRecord | null> {
  const row = await updateRow<ApiKeyRow>(db, 'api_keys', KEY_COLUMNS, id, keyColumns(patch), now, patch.budgetPeriod);
  return row ? keyFromRow(row) : null;
}

/** Revokes a key from `now` on; a revoked key is never accepted again. */
export async function markKeyRevoked(db: D1Database, id: string, now: string): Promise<ApiKeyRecord | null> {
  const row = await updateRow<ApiKeyRow>(db, 'api_keys', KEY_COLUMNS, id, { revoked_at: now }, now);
  return row ? keyFromRow(row) : null;
}

/** Gives a key a new secret (rotation): the old plaintext stops working at once. */
export async function replaceKeySecret(db: D1Database, id: string, secret: KeySecret, now: string): Promise<ApiKeyRecord | null> {
  const row = await updateRow<ApiKeyRow>(db, 'api_keys', KEY_COLUMNS, id, { key_hash: secret.keyHash, prefix: secret.prefix }, now);
  return row ? keyFromRow(row) : null;
}

/**
 * Tenant auth's lookup: the key by its hash, and its tenant, in one round trip (one D1 batch, so
 * both reads see the same state).
 */
export async function findCallerByKeyHash(db: D1Database, keyHash: string): Promise<Caller | null> {
  const [keys, tenants] = await db.batch<ApiKeyRow | TenantRow>([
    db.prepare(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_hash = ?`).bind(keyHash),
    db.prepare(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = (SELECT tenant_id FROM api_keys WHERE key_hash = ?)`).bind(keyHash),
  ]);
  const key = keys?.results[0] as ApiKeyRow | undefined;
  const tenant = tenants?.results[0] as TenantRow | undefined;
  return key && tenant ? { key: keyFromRow(key), tenant: tenantFromRow(tenant) } : null;
}

async function insertRow<Row>(db: D1Database, table: string, returning: string, values: Columns): Promise<Row> {
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
  values: Columns,
  now: string,
  budgetPeriod?: BudgetPeriod,
): Promise<Row | null> {
  const entries = Object.entries({ ...values, updated_at: now }).filter(([, v]) => v !== undefined);
  const sql = `UPDATE ${table} SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ? RETURNING ${returning}`;
  const update = db.prepare(sql).bind(...entries.map(([, v]) => v ?? null), id);
  if (budgetPeriod === undefined) return update.first<Row>();
  // docs/money.md: the ledger sums to what the budget says was spent. A budget that changes its
  // period (month → day, say) has spent what the ledger holds since the new period began, not 0:
  // otherwise switching back and forth would buy a fresh budget. Same batch, so no reserve or
  // settle sees the new period with a stale spent_nano.
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
