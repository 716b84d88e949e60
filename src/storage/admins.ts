/**
 * Admin principals in D1 (docs/admin.md). Tokens are stored only as SHA-256 hashes, like tenant
 * keys. Every write here returns its statement unexecuted, so the caller applies it together with
 * its audit entry in one batch (`commitAudited` in ./audit).
 */
import { invalid } from '../domain/failure';
import { hashKey, newId } from '../domain/keys';
import { adminTokenPrefix, newAdminToken, type Principal, type Role } from '../domain/roles';
import { fieldsOf, recordById, recordsOldestFirst, type Table } from './rows';

/** Up to 7 days: long enough to roll a token through every deployment, short enough to matter. */
export const MAX_GRACE_SECONDS = 604_800;

/** When a secret rotated at `now` with this grace stops working; null: at once. */
export function graceEnd(now: string, graceSeconds: number): string | null {
  return graceSeconds > 0 ? new Date(Date.parse(now) + graceSeconds * 1000).toISOString() : null;
}

export interface AdminRecord {
  id: string;
  name: string;
  role: Role;
  tenantId: string | null;
  prefix: string;
  createdAt: string;
  updatedAt: string;
  revokedAt: string | null;
  /** Until when the token before the last rotation still works; null when it does not. */
  previousExpiresAt: string | null;
}

interface AdminRow {
  id: string;
  name: string;
  role: Role;
  tenant_id: string | null;
  prefix: string;
  created_at: string;
  updated_at: string;
  revoked_at: string | null;
  previous_expires_at: string | null;
}

const ADMIN_COLUMNS = 'id, name, role, tenant_id, prefix, created_at, updated_at, revoked_at, previous_expires_at';

/** Every column is stored as the record holds it. */
const ADMINS: Table<AdminRow, AdminRecord> = { name: 'admin_principals', columns: ADMIN_COLUMNS, fromRow: fieldsOf };

/** The principal an admin route acts as, from its stored record. */
export function principalOf(admin: AdminRecord): Principal {
  return { type: 'admin', id: admin.id, name: admin.name, role: admin.role, tenantId: admin.tenantId };
}

/** A write not yet applied: its statement, the record it will leave, and a token shown this once. */
export interface AdminWrite {
  statement: D1PreparedStatement;
  record: AdminRecord;
  token: string;
}

export interface NewAdmin {
  name: string;
  role: Role;
  /** Required for `tenant_admin`, null for every other role (the table's CHECK holds it to that). */
  tenantId: string | null;
}

export async function createAdmin(db: D1Database, input: NewAdmin, now: string): Promise<AdminWrite> {
  const token = newAdminToken();
  const record: AdminRecord = {
    id: newId('adm'),
    name: input.name,
    role: input.role,
    tenantId: input.tenantId,
    prefix: adminTokenPrefix(token),
    createdAt: now,
    updatedAt: now,
    revokedAt: null,
    previousExpiresAt: null,
  };
  const statement = db
    .prepare(
      `INSERT INTO admin_principals (id, name, role, tenant_id, token_hash, prefix, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(record.id, record.name, record.role, record.tenantId, await hashKey(token), record.prefix, now, now);
  return { statement, record, token };
}

export async function getAdmin(db: D1Database, id: string): Promise<AdminRecord | null> {
  return recordById(db, ADMINS, id);
}

/** Every principal, revoked ones included (they show `revoked_at`), oldest first. */
export async function listAdmins(db: D1Database): Promise<AdminRecord[]> {
  return recordsOldestFirst(db, ADMINS);
}

/**
 * Revokes a principal: its token and any previous token stop at once. Matches no row when the
 * principal is unknown or already revoked (then `commitAudited` reports `applied: false`).
 */
export function revokeAdmin(db: D1Database, id: string, now: string): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE admin_principals SET revoked_at = ?1, updated_at = ?1, previous_token_hash = NULL, previous_expires_at = NULL
       WHERE id = ?2 AND revoked_at IS NULL`,
    )
    .bind(now, id);
}

/**
 * A new token for a principal. With `graceSeconds` > 0 the current token keeps working until
 * now + grace (a token rotated earlier and still in its grace stops now: one previous token at a
 * time); with 0 it stops at once. `record` is `before` as it will read after the rotation.
 */
export async function rotateAdmin(
  db: D1Database,
  before: AdminRecord,
  graceSeconds: number,
  now: string,
): Promise<AdminWrite> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
    throw invalid({ param: 'grace_seconds', message: `grace_seconds must be an integer from 0 to ${MAX_GRACE_SECONDS}` });
  }
  const token = newAdminToken();
  const previousExpiresAt = graceEnd(now, graceSeconds);
  const record: AdminRecord = { ...before, prefix: adminTokenPrefix(token), updatedAt: now, previousExpiresAt };
  // SQLite evaluates every right-hand side against the row as it was, so token_hash here is the old one.
  const statement = db
    .prepare(
      `UPDATE admin_principals
       SET previous_token_hash = CASE WHEN ?1 IS NULL THEN NULL ELSE token_hash END, previous_expires_at = ?1,
           token_hash = ?2, prefix = ?3, updated_at = ?4
       WHERE id = ?5 AND revoked_at IS NULL`,
    )
    .bind(previousExpiresAt, await hashKey(token), record.prefix, now, before.id);
  return { statement, record, token };
}

/** A principal found by a token: `graceEndsAt` is set when it was the previous token, still in its grace. */
export interface AdminMatch {
  admin: AdminRecord;
  graceEndsAt: string | null;
}

/**
 * Admin auth's lookup: the live principal whose current token has this hash, or whose previous
 * token has it and is still inside its grace period (valid while now < previous_expires_at).
 */
export async function adminByToken(db: D1Database, tokenHash: string, now: string): Promise<AdminMatch | null> {
  const row = await db
    .prepare(
      `SELECT ${ADMIN_COLUMNS}, CASE WHEN token_hash = ?1 THEN NULL ELSE previous_expires_at END AS grace_ends_at
       FROM admin_principals
       WHERE revoked_at IS NULL AND (token_hash = ?1 OR (previous_token_hash = ?1 AND previous_expires_at > ?2))`,
    )
    .bind(tokenHash, now)
    .first<AdminRow & { grace_ends_at: string | null }>();
  if (!row) return null;
  const { grace_ends_at: graceEndsAt, ...admin } = row;
  return { admin: ADMINS.fromRow(admin), graceEndsAt };
}

/** `adminByToken`'s principal alone. */
export async function principalByToken(db: D1Database, tokenHash: string, now: string): Promise<AdminRecord | null> {
  return (await adminByToken(db, tokenHash, now))?.admin ?? null;
}
