/**
 * The audit log in D1 (docs/admin.md). An entry is only ever written as a statement in the same
 * `db.batch` as its change (`commitAudited`), so one cannot exist without the other; the table's
 * triggers refuse every UPDATE and DELETE.
 */
import {
  AUDIT_PAGE_DEFAULT,
  AUDIT_PAGE_MAX,
  auditedFields,
  decodeAuditCursor,
  encodeAuditCursor,
  newAuditId,
  type AuditAction,
  type AuditEntry,
  type Fields,
  type StoredAuditEntry,
} from '../domain/audit';
import { invalid } from '../domain/failure';
import type { Role } from '../domain/roles';

interface AuditRow {
  id: string;
  at: string;
  actor_type: 'admin_token' | 'admin';
  actor_id: string;
  actor_name: string;
  actor_role: Role;
  action: AuditAction;
  target_type: string;
  target_id: string;
  tenant_id: string | null;
  before_json: string | null;
  after_json: string | null;
  request_id: string;
}

const AUDIT_COLUMNS =
  'id, at, actor_type, actor_id, actor_name, actor_role, action, target_type, target_id, tenant_id, before_json, after_json, request_id';

/**
 * The INSERT for one entry, secrets removed and before/after cut to the changed fields. It inserts
 * only when the statement just before it in the batch changed a row (`changes()`), so an UPDATE
 * that matched nothing — the key was revoked meanwhile, say — leaves no entry for a change that
 * did not happen. A change that fails aborts the batch, entry included.
 */
export function auditStatement(db: D1Database, entry: AuditEntry): D1PreparedStatement {
  const { before, after } = auditedFields(entry.before, entry.after);
  return db
    .prepare(
      `INSERT INTO audit_log (${AUDIT_COLUMNS})
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0`,
    )
    .bind(
      newAuditId(entry.at),
      entry.at,
      entry.actor.type,
      entry.actor.id,
      entry.actor.name,
      entry.actor.role,
      entry.action,
      entry.target.type,
      entry.target.id,
      entry.tenantId,
      before === null ? null : JSON.stringify(before),
      after === null ? null : JSON.stringify(after),
      entry.requestId,
    );
}

/**
 * Applies a change and its audit entry in one D1 batch (one transaction). `applied` is false when
 * the change's last statement matched no row; then no entry was written either. `then` are
 * statements that follow the entry in the same batch (a webhook event the change causes, say); one
 * that must happen only with the change guards itself with `changes()`, which after the entry
 * counts the entry's own insert.
 */
export async function commitAudited(
  db: D1Database,
  change: D1PreparedStatement | readonly D1PreparedStatement[],
  entry: AuditEntry,
  then: readonly D1PreparedStatement[] = [],
): Promise<{ applied: boolean; results: D1Result[] }> {
  const statements = Array.isArray(change) ? [...change] : [change as D1PreparedStatement];
  const results = await db.batch([...statements, auditStatement(db, entry), ...then]);
  const last = results[statements.length - 1];
  return { applied: (last?.meta.changes ?? 0) > 0, results: results.slice(0, statements.length) };
}

// ------------------------------------------------------------------ reading

export interface AuditFilters {
  tenantId?: string;
  targetId?: string;
  actorId?: string;
  action?: string;
  /** ISO 8601 instants: entries with from <= at < to. */
  from?: string;
  to?: string;
  /** 1–200, default 50. */
  limit?: number;
  /** The `nextCursor` of the page before. */
  cursor?: string;
}

export interface AuditPage {
  entries: StoredAuditEntry[];
  nextCursor: string | null;
}

/**
 * Entries newest first, by keyset on (at, id): a page starts strictly below the last entry of the
 * page before, so entries inserted meanwhile neither repeat nor shift an entry off a page.
 */
export async function listAudit(db: D1Database, filters: AuditFilters): Promise<AuditPage> {
  const limit = filters.limit ?? AUDIT_PAGE_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_PAGE_MAX) {
    throw invalid({ param: 'limit', message: `limit must be an integer from 1 to ${AUDIT_PAGE_MAX}` });
  }
  const { where, binds } = auditWhere(filters);
  const { results } = await db
    .prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log ${where} ORDER BY at DESC, id DESC LIMIT ?`)
    .bind(...binds, limit + 1)
    .all<AuditRow>();
  const entries = results.slice(0, limit).map(entryFromRow);
  const last = entries[entries.length - 1];
  const nextCursor = results.length > limit && last ? encodeAuditCursor({ at: last.at, id: last.id }) : null;
  return { entries, nextCursor };
}

function auditWhere(filters: AuditFilters): { where: string; binds: string[] } {
  const clauses: string[] = [];
  const binds: string[] = [];
  const add = (sql: string, ...values: string[]) => {
    clauses.push(sql);
    binds.push(...values);
  };
  if (filters.tenantId !== undefined) add('tenant_id = ?', filters.tenantId);
  if (filters.targetId !== undefined) add('target_id = ?', filters.targetId);
  if (filters.actorId !== undefined) add('actor_id = ?', filters.actorId);
  if (filters.action !== undefined) add('action = ?', filters.action);
  if (filters.from !== undefined) add('at >= ?', filters.from);
  if (filters.to !== undefined) add('at < ?', filters.to);
  if (filters.cursor !== undefined) {
    const cursor = decodeAuditCursor(filters.cursor);
    if (!cursor) throw invalid({ param: 'cursor', message: 'cursor is not one this API returned' });
    add('(at < ? OR (at = ? AND id < ?))', cursor.at, cursor.at, cursor.id);
  }
  return { where: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', binds };
}

function entryFromRow(row: AuditRow): StoredAuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: { type: row.actor_type, id: row.actor_id, name: row.actor_name, role: row.actor_role },
    action: row.action,
    target: { type: row.target_type, id: row.target_id },
    tenantId: row.tenant_id,
    before: row.before_json === null ? null : (JSON.parse(row.before_json) as Fields),
    after: row.after_json === null ? null : (JSON.parse(row.after_json) as Fields),
    requestId: row.request_id,
  };
}
