import { periodKey, periodStart, type BudgetPeriod, type BudgetState } from '../domain/budget-period';
import { nanoFromDb, nanoToDb, type Nano } from '../domain/money';
import type { ApiKeyRecord, Caller, CacheScope, Limits, TenantRecord } from '../domain/tenants';
import { STATE_COLUMNS, stateFromRow, type StateRow } from './budget-snapshot';
import { rollPeriodStatement } from './reservations';
import { recordById, recordsOldestFirst, type Table } from './rows';

/**
 * Tenants and their API keys in D1 (docs/admin.md). Callers speak records and patches; the column
 * names and their encodings (nano-USD as INTEGER, booleans as 0/1, model lists as JSON) stay here.
 *
 * Every write is a `PendingWrite`: its statements, unexecuted, so the admin API applies them in the
 * same D1 batch as their audit entry (`applyWrite` runs one alone).
 */

/** A change to a budget and its limits; an absent field is left as it is, null clears it. */
export interface LimitsPatch {
  budgetNano?: Nano | null;
  budgetPeriod?: BudgetPeriod;
  rateLimitRpm?: number | null;
  maxConcurrent?: number | null;
  /** Distinct percents 1–100, smallest first (src/domain/alert-thresholds.ts); [] for no alerts. */
  alertThresholds?: number[];
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
  /** Replaces the key's default tags; null or {} clears them. */
  defaultTags?: Record<string, string> | null;
}

/** A new tenant or key: a patch with a name; the table's defaults fill what it leaves out. */
export type NewTenant = TenantPatch & { name: string };
export type NewKey = KeyPatch & { name: string };

/** How a key is found and shown: its hash (never its plaintext) and its display prefix. */
export interface KeySecret {
  keyHash: string;
  prefix: string;
}

/** The columns tenants and keys share: identity, budget and limits, state, times. */
interface SharedRow {
  id: string;
  name: string;
  budget_nano: number | null;
  budget_period: BudgetPeriod;
  rate_limit_rpm: number | null;
  max_concurrent: number | null;
  alert_thresholds: string;
  disabled: number;
  created_at: string;
  updated_at: string;
}
interface TenantRow extends SharedRow {
  cache_scope: CacheScope;
  cache_ttl_days: number;
  allowed_models: string | null;
}
interface ApiKeyRow extends SharedRow {
  tenant_id: string;
  prefix: string;
  expires_at: string | null;
  revoked_at: string | null;
  default_tags: string | null;
}

const TENANT_COLUMNS =
  'id, name, budget_nano, budget_period, rate_limit_rpm, max_concurrent, cache_scope, cache_ttl_days, allowed_models, alert_thresholds, disabled, created_at, updated_at';
const KEY_COLUMNS =
  'id, tenant_id, name, prefix, budget_nano, budget_period, rate_limit_rpm, max_concurrent, expires_at, disabled, revoked_at, default_tags, alert_thresholds, created_at, updated_at';

type Shared = Limits & Pick<TenantRecord, 'id' | 'name' | 'disabled' | 'createdAt' | 'updatedAt'>;

function sharedFromRow(row: SharedRow): Shared {
  return {
    id: row.id,
    name: row.name,
    budgetNano: nanoFromDb(row.budget_nano),
    budgetPeriod: row.budget_period,
    rateLimitRpm: row.rate_limit_rpm,
    maxConcurrent: row.max_concurrent,
    alertThresholds: JSON.parse(row.alert_thresholds) as number[],
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function tenantFromRow(row: TenantRow): TenantRecord {
  const allowedModels = row.allowed_models === null ? null : (JSON.parse(row.allowed_models) as string[]);
  return { ...sharedFromRow(row), cacheScope: row.cache_scope, cacheTtlDays: row.cache_ttl_days, allowedModels };
}

function keyFromRow(row: ApiKeyRow): ApiKeyRecord {
  const defaultTags = row.default_tags === null ? {} : (JSON.parse(row.default_tags) as Record<string, string>);
  return { ...sharedFromRow(row), tenantId: row.tenant_id, prefix: row.prefix, expiresAt: row.expires_at, revokedAt: row.revoked_at, defaultTags };
}

/** Tenants and keys: the two tables that carry a budget, and so the ones a patch writes. */
interface BudgetTable<Row, T> extends Table<Row, T> {
  name: 'tenants' | 'api_keys';
}

const TENANTS: BudgetTable<TenantRow, TenantRecord> = { name: 'tenants', columns: TENANT_COLUMNS, fromRow: tenantFromRow };
const KEYS: BudgetTable<ApiKeyRow, ApiKeyRecord> = { name: 'api_keys', columns: KEY_COLUMNS, fromRow: keyFromRow };

/** Column values as D1 binds them; undefined means "leave as it is" in an update. */
type Columns = Record<string, string | number | null | undefined>;

/** The column each patch field is stored in. */
const COLUMN_OF: Record<keyof TenantPatch | keyof KeyPatch, string> = {
  name: 'name',
  budgetNano: 'budget_nano',
  budgetPeriod: 'budget_period',
  rateLimitRpm: 'rate_limit_rpm',
  maxConcurrent: 'max_concurrent',
  alertThresholds: 'alert_thresholds',
  cacheScope: 'cache_scope',
  cacheTtlDays: 'cache_ttl_days',
  allowedModels: 'allowed_models',
  disabled: 'disabled',
  expiresAt: 'expires_at',
  defaultTags: 'default_tags',
};

/**
 * A patch as column values. Each kind of value has one encoding: nano-USD (the only bigint) as an
 * INTEGER, a boolean as 0/1, a list (of model ids) or an object (of tags) as JSON; strings and numbers as they are. An
 * absent field is not written; null clears the column.
 */
function patchColumns(patch: TenantPatch | KeyPatch): Columns {
  const columns: Columns = {};
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined || !Object.hasOwn(COLUMN_OF, field)) continue;
    columns[COLUMN_OF[field as keyof typeof COLUMN_OF]] = encode(value as PatchValue | null);
  }
  return columns;
}

type PatchValue = NonNullable<(TenantPatch & KeyPatch)[keyof typeof COLUMN_OF]>;

function encode(value: PatchValue | null): string | number | null {
  if (typeof value === 'bigint') return nanoToDb(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (Array.isArray(value)) return JSON.stringify(value);
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0 ? null : JSON.stringify(value);
  return value;
}

/**
 * A write not yet applied: its statements for one D1 batch, in order, and how to read the record
 * the last of them returned (null when it matched no row). The last statement is the one that
 * changes the row, so an audit entry appended after it is written only when the change was made.
 */
export interface PendingWrite<T> {
  statements: D1PreparedStatement[];
  read: (results: readonly D1Result[]) => T | null;
}

/** Applies a write on its own, in one batch. */
export async function applyWrite<T>(db: D1Database, write: PendingWrite<T>): Promise<T | null> {
  return write.read(await db.batch(write.statements));
}

function readLast<Row, T>(fromRow: (row: Row) => T): (results: readonly D1Result[]) => T | null {
  return (results) => {
    const row = results[results.length - 1]?.results[0] as Row | undefined;
    return row ? fromRow(row) : null;
  };
}

// ------------------------------------------------------------------ tenants

export function insertTenantWrite(db: D1Database, id: string, tenant: NewTenant, now: string): PendingWrite<TenantRecord> {
  return insertWrite(db, TENANTS, { id, ...patchColumns(tenant), created_at: now, updated_at: now });
}

export async function insertTenant(db: D1Database, id: string, tenant: NewTenant, now: string): Promise<TenantRecord> {
  const record = await applyWrite(db, insertTenantWrite(db, id, tenant, now));
  if (!record) throw new Error('insert into tenants returned no row');
  return record;
}

export async function getTenant(db: D1Database, id: string): Promise<TenantRecord | null> {
  return recordById(db, TENANTS, id);
}

export async function listTenants(db: D1Database): Promise<TenantRecord[]> {
  return recordsOldestFirst(db, TENANTS);
}

export function updateTenantWrite(db: D1Database, id: string, patch: TenantPatch, now: string): PendingWrite<TenantRecord> {
  return updateWrite(db, TENANTS, id, patch, now);
}

// ------------------------------------------------------------------ keys

export function insertKeyWrite(
  db: D1Database,
  id: string,
  tenantId: string,
  secret: KeySecret,
  key: NewKey,
  now: string,
): PendingWrite<ApiKeyRecord> {
  const values = { id, tenant_id: tenantId, key_hash: secret.keyHash, prefix: secret.prefix, ...patchColumns(key), created_at: now, updated_at: now };
  return insertWrite(db, KEYS, values);
}

export async function getKey(db: D1Database, id: string): Promise<ApiKeyRecord | null> {
  return recordById(db, KEYS, id);
}

/** A tenant's keys, oldest first. */
export async function listKeys(db: D1Database, tenantId: string): Promise<ApiKeyRecord[]> {
  return recordsOldestFirst(db, KEYS, 'tenant_id = ?', tenantId);
}

export function updateKeyWrite(db: D1Database, id: string, patch: KeyPatch, now: string): PendingWrite<ApiKeyRecord> {
  return updateWrite(db, KEYS, id, patch, now);
}

/**
 * Revokes a key from `now` on, its current and any previous secret at once. Matches no row when
 * the key is unknown or already revoked (so a second revoke writes no audit entry).
 */
export function revokeKeyWrite(db: D1Database, id: string, now: string): PendingWrite<ApiKeyRecord> {
  const statement = db
    .prepare(
      `UPDATE api_keys SET revoked_at = ?1, updated_at = ?1, previous_key_hash = NULL, previous_expires_at = NULL
       WHERE id = ?2 AND revoked_at IS NULL RETURNING ${KEY_COLUMNS}`,
    )
    .bind(now, id);
  return { statements: [statement], read: readLast(keyFromRow) };
}

/**
 * Gives a live key a new secret (rotation). With `previousExpiresAt` the old secret keeps working
 * until then (a secret rotated earlier and still in its grace stops now: one previous secret at a
 * time); with null it stops at once. Matches no row for a revoked key.
 */
export function rotateKeyWrite(db: D1Database, id: string, secret: KeySecret, previousExpiresAt: string | null, now: string): PendingWrite<ApiKeyRecord> {
  // SQLite evaluates every right-hand side against the row as it was, so key_hash here is the old one.
  const statement = db
    .prepare(
      `UPDATE api_keys
       SET previous_key_hash = CASE WHEN ?1 IS NULL THEN NULL ELSE key_hash END, previous_expires_at = ?1,
           key_hash = ?2, prefix = ?3, updated_at = ?4
       WHERE id = ?5 AND revoked_at IS NULL RETURNING ${KEY_COLUMNS}`,
    )
    .bind(previousExpiresAt, secret.keyHash, secret.prefix, now, id);
  return { statements: [statement], read: readLast(keyFromRow) };
}

// ------------------------------------------------------------------ tenant auth

/** A caller found by a secret: `graceEndsAt` is set when it was the key's previous secret, still in its grace. */
export interface CallerMatch {
  caller: Caller;
  graceEndsAt: string | null;
}

const MATCHES_SECRET = 'key_hash = ?1 OR (previous_key_hash = ?1 AND previous_expires_at > ?2)';

/**
 * Tenant auth's lookup: the key whose current secret has this hash, or whose previous secret has it
 * and is still inside its grace period (now < previous_expires_at), and its tenant, in one round
 * trip (one D1 batch, so both reads see the same state).
 */
export async function findCallerBySecret(db: D1Database, keyHash: string, now: string): Promise<CallerMatch | null> {
  const [keys, tenants] = await db.batch<(ApiKeyRow & { grace_ends_at: string | null }) | TenantRow>([
    db
      .prepare(`SELECT ${KEY_COLUMNS}, CASE WHEN key_hash = ?1 THEN NULL ELSE previous_expires_at END AS grace_ends_at FROM api_keys WHERE ${MATCHES_SECRET}`)
      .bind(keyHash, now),
    db.prepare(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = (SELECT tenant_id FROM api_keys WHERE ${MATCHES_SECRET})`).bind(keyHash, now),
  ]);
  const key = keys?.results[0] as (ApiKeyRow & { grace_ends_at: string | null }) | undefined;
  const tenant = tenants?.results[0] as TenantRow | undefined;
  return key && tenant ? { caller: { key: keyFromRow(key), tenant: tenantFromRow(tenant) }, graceEndsAt: key.grace_ends_at } : null;
}

/** The caller whose key (current secret, or previous one within its grace at `now`) has this hash. */
export async function findCallerByKeyHash(db: D1Database, keyHash: string, now: string = new Date().toISOString()): Promise<Caller | null> {
  return (await findCallerBySecret(db, keyHash, now))?.caller ?? null;
}

// ------------------------------------------------------------------ budget states

/**
 * The budget state (budget, period, spent, reserved) of each of these tenants or keys, in one
 * query whatever their number: the admin API shows each object's spend for its current period.
 */
export async function budgetStates(db: D1Database, table: 'tenants' | 'api_keys', ids: readonly string[]): Promise<Map<string, BudgetState>> {
  if (ids.length === 0) return new Map();
  const { results } = await db
    .prepare(`SELECT id, ${STATE_COLUMNS} FROM ${table} WHERE id IN (SELECT value FROM json_each(?))`)
    .bind(JSON.stringify(ids))
    .all<StateRow & { id: string }>();
  return new Map(results.map((row) => [row.id, stateFromRow(row)]));
}

// ------------------------------------------------------------------ statements

/** A new row of `values` (a column left out takes the table's default), read back as its record. */
function insertWrite<Row, T>(db: D1Database, table: BudgetTable<Row, T>, values: Columns): PendingWrite<T> {
  const entries = Object.entries(values).filter(([, v]) => v !== undefined);
  const sql = `INSERT INTO ${table.name} (${entries.map(([k]) => k).join(', ')}) VALUES (${entries.map(() => '?').join(', ')}) RETURNING ${table.columns}`;
  return { statements: [db.prepare(sql).bind(...entries.map(([, v]) => v ?? null))], read: readLast(table.fromRow) };
}

function updateWrite<Row, T>(db: D1Database, table: BudgetTable<Row, T>, id: string, patch: TenantPatch | KeyPatch, now: string): PendingWrite<T> {
  return { statements: updateStatements(db, table, id, patchColumns(patch), now, patch.budgetPeriod), read: readLast(table.fromRow) };
}

function updateStatements<Row, T>(
  db: D1Database,
  { name: table, columns: returning }: BudgetTable<Row, T>,
  id: string,
  values: Columns,
  now: string,
  budgetPeriod?: BudgetPeriod,
): D1PreparedStatement[] {
  const entries = Object.entries({ ...values, updated_at: now }).filter(([, v]) => v !== undefined);
  const sql = `UPDATE ${table} SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ? RETURNING ${returning}`;
  const update = db.prepare(sql).bind(...entries.map(([, v]) => v ?? null), id);
  // A new budget is measured against this period's spend, so a stale period rolls over first: the
  // budget alert triggers (migrations/0009) compare the new budget with what is really spent now.
  const roll = values.budget_nano === undefined ? [] : [rollPeriodStatement(db, table, id, Date.parse(now))];
  if (budgetPeriod === undefined) return [...roll, update];
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
  return [...roll, update, respend];
}
