/**
 * Console sessions in D1 (docs/console.md). Only the SHA-256 of a session's token is stored; the
 * row names the principal the session acts as, and ends at `expires_at` or when `ended_at` is set.
 */

export interface SessionRow {
  principalType: 'admin_token' | 'admin';
  principalId: string;
  /** For a session signed in with ADMIN_TOKEN: the SHA-256 of the ADMIN_TOKEN of that time. */
  bootstrapHash: string | null;
  createdAt: string;
  expiresAt: string;
}

export interface NewSession extends SessionRow {
  idHash: string;
}

/** The INSERT for a new session, for the caller to batch with its audit entry (commitAudited). */
export function insertSessionStatement(db: D1Database, s: NewSession): D1PreparedStatement {
  return db
    .prepare('INSERT INTO console_sessions (id_hash, principal_type, principal_id, bootstrap_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
    .bind(s.idHash, s.principalType, s.principalId, s.bootstrapHash, s.createdAt, s.expiresAt);
}

/** The live session with this token hash at `nowIso`: not ended, not expired. */
export async function liveSession(db: D1Database, idHash: string, nowIso: string): Promise<SessionRow | null> {
  const row = await db
    .prepare(
      `SELECT principal_type, principal_id, bootstrap_hash, created_at, expires_at FROM console_sessions
       WHERE id_hash = ? AND ended_at IS NULL AND expires_at > ?`,
    )
    .bind(idHash, nowIso)
    .first<{ principal_type: SessionRow['principalType']; principal_id: string; bootstrap_hash: string | null; created_at: string; expires_at: string }>();
  if (!row) return null;
  return { principalType: row.principal_type, principalId: row.principal_id, bootstrapHash: row.bootstrap_hash, createdAt: row.created_at, expiresAt: row.expires_at };
}

/** Ends a session (sign-out); matches no row when it already ended. */
export function endSessionStatement(db: D1Database, idHash: string, nowIso: string): D1PreparedStatement {
  return db.prepare('UPDATE console_sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL').bind(nowIso, idHash);
}

/** Whether the session row exists and has ended, for tests and the sign-out check. */
export async function sessionEnded(db: D1Database, idHash: string): Promise<boolean> {
  const row = await db.prepare('SELECT ended_at FROM console_sessions WHERE id_hash = ?').bind(idHash).first<{ ended_at: string | null }>();
  return row?.ended_at != null;
}

/**
 * Ends every live session of an admin principal (its token was rotated): a statement for the caller
 * to batch with the rotation itself, so the old token's sessions end exactly when the new token exists.
 */
export function endPrincipalSessionsStatement(db: D1Database, principalId: string, nowIso: string): D1PreparedStatement {
  return db
    .prepare("UPDATE console_sessions SET ended_at = ? WHERE principal_type = 'admin' AND principal_id = ? AND ended_at IS NULL")
    .bind(nowIso, principalId);
}

/** Deletes the rows of sessions that ended or expired before `beforeIso`; returns how many. */
export async function pruneSessions(db: D1Database, beforeIso: string): Promise<number> {
  const result = await db
    .prepare('DELETE FROM console_sessions WHERE (ended_at IS NOT NULL AND ended_at < ?) OR expires_at < ?')
    .bind(beforeIso, beforeIso)
    .run();
  return result.meta.changes ?? 0;
}
