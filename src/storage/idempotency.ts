/**
 * Idempotency-Key records (IETF httpapi draft "The Idempotency-Key HTTP Header Field"; docs/cache.md):
 * one row per (tenant, key) in D1 holds the state, the request's hash and the stored status and
 * headers; the stored body goes to R2, because it can be an image.
 */
import { fieldsOf } from './rows';

export interface IdempotencyRecord {
  bodyHash: string;
  state: 'running' | 'done';
  owner: string;
  leaseUntil: number;
  status: number | null;
  headers: [string, string][] | null;
  bodyKey: string | null;
  createdAt: number;
}

interface RecordRow {
  body_hash: string;
  state: 'running' | 'done';
  owner: string;
  lease_until: number;
  status: number | null;
  headers: string | null;
  body_key: string | null;
  created_at: number;
}

const RECORD_COLUMNS = 'body_hash, state, owner, lease_until, status, headers, body_key, created_at';

function recordFromRow(row: RecordRow): IdempotencyRecord {
  return { ...fieldsOf(row), headers: row.headers === null ? null : (JSON.parse(row.headers) as [string, string][]) };
}

export interface ClaimOptions {
  tenantId: string;
  key: string;
  bodyHash: string;
  /** The request id of the claiming request. */
  owner: string;
  now: number;
  leaseMs: number;
  ttlMs: number;
}

/**
 * Claims the key for this request in one statement: inserts a 'running' record, or takes over one
 * that is past its 24 h, or a 'running' one for the same body whose lease ran out (its worker died).
 * Returns true when this request now owns the key.
 */
export async function claimKey(db: D1Database, o: ClaimOptions): Promise<boolean> {
  const row = await db
    .prepare(
      `INSERT INTO idempotency_records (tenant_id, idem_key, body_hash, state, owner, lease_until, created_at)
       VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6)
       ON CONFLICT (tenant_id, idem_key) DO UPDATE SET
         body_hash = excluded.body_hash, state = 'running', owner = excluded.owner, lease_until = excluded.lease_until,
         status = NULL, headers = NULL, body_key = NULL, created_at = excluded.created_at
       WHERE idempotency_records.created_at <= ?7
          OR (idempotency_records.state = 'running' AND idempotency_records.lease_until <= ?6
              AND idempotency_records.body_hash = excluded.body_hash)
       RETURNING owner`,
    )
    .bind(o.tenantId, o.key, o.bodyHash, o.owner, o.now + o.leaseMs, o.now, o.now - o.ttlMs)
    .first<{ owner: string }>();
  return row?.owner === o.owner;
}

export async function readKey(db: D1Database, tenantId: string, key: string): Promise<IdempotencyRecord | null> {
  const row = await db
    .prepare(`SELECT ${RECORD_COLUMNS} FROM idempotency_records WHERE tenant_id = ? AND idem_key = ?`)
    .bind(tenantId, key)
    .first<RecordRow>();
  return row ? recordFromRow(row) : null;
}

/** Stores the finished answer, if this request still owns the key. */
export async function completeKey(
  db: D1Database,
  bucket: R2Bucket,
  tenantId: string,
  key: string,
  owner: string,
  answer: { status: number; headers: [string, string][]; body: ArrayBuffer },
): Promise<void> {
  // one object per owner: a worker that lost its lease can never overwrite the new owner's body
  const bodyKey = `idempotency/${tenantId}/${owner}`;
  await bucket.put(bodyKey, answer.body);
  const { meta } = await db
    .prepare(
      `UPDATE idempotency_records SET state = 'done', status = ?, headers = ?, body_key = ?
       WHERE tenant_id = ? AND idem_key = ? AND owner = ? AND state = 'running'`,
    )
    .bind(answer.status, JSON.stringify(answer.headers), bodyKey, tenantId, key, owner)
    .run();
  if (meta.changes === 0) await bucket.delete(bodyKey);
}

/** Gives the key up (the request ended in a way worth retrying), if this request still owns it. */
export async function abandonKey(db: D1Database, tenantId: string, key: string, owner: string): Promise<void> {
  await db
    .prepare("DELETE FROM idempotency_records WHERE tenant_id = ? AND idem_key = ? AND owner = ? AND state = 'running'")
    .bind(tenantId, key, owner)
    .run();
}

/** Forgets a record whose stored body is gone, so the key can be used again. */
export async function dropKey(db: D1Database, tenantId: string, key: string, owner: string): Promise<void> {
  await db.prepare('DELETE FROM idempotency_records WHERE tenant_id = ? AND idem_key = ? AND owner = ?').bind(tenantId, key, owner).run();
}

export async function storedBody(bucket: R2Bucket, bodyKey: string): Promise<ArrayBuffer | null> {
  const object = await bucket.get(bodyKey);
  return object ? object.arrayBuffer() : null;
}

/** Deletes records (and their bodies) created at or before `cutoff`; returns how many. */
export async function pruneKeys(db: D1Database, bucket: R2Bucket, cutoff: number): Promise<number> {
  const PAGE = 500;
  let pruned = 0;
  for (;;) {
    const { results } = await db
      .prepare('SELECT tenant_id, idem_key, body_key FROM idempotency_records WHERE created_at <= ? LIMIT ?')
      .bind(cutoff, PAGE)
      .all<{ tenant_id: string; idem_key: string; body_key: string | null }>();
    if (results.length === 0) return pruned;
    const bodies = results.map((r) => r.body_key).filter((k): k is string => k !== null);
    if (bodies.length > 0) await bucket.delete(bodies);
    await db.batch(
      results.map((r) =>
        db
          .prepare('DELETE FROM idempotency_records WHERE tenant_id = ? AND idem_key = ? AND created_at <= ?')
          .bind(r.tenant_id, r.idem_key, cutoff),
      ),
    );
    pruned += results.length;
    if (results.length < PAGE) return pruned;
  }
}
