import { LEDGER_COLUMNS } from './budget-ledger';

/**
 * Releases every reservation whose request died (expired before it was settled or released):
 * reserved_nano goes back on both rows, a ledger row says 'expired' with cost 0. One batch, all
 * statements reading the same set of expired rows, so it is all or nothing.
 */
export async function releaseExpired(db: D1Database, now: number): Promise<number> {
  const giveBack = (table: 'api_keys' | 'tenants', idColumn: 'key_id' | 'tenant_id') =>
    db
      .prepare(
        `UPDATE ${table} SET reserved_nano = reserved_nano -
           (SELECT SUM(cost_nano) FROM reservations r WHERE r.${idColumn} = ${table}.id AND r.expires_at <= ?1)
         WHERE id IN (SELECT ${idColumn} FROM reservations WHERE expires_at <= ?1)`,
      )
      .bind(now);
  const iso = new Date(now).toISOString();
  const results = await db.batch([
    giveBack('api_keys', 'key_id'),
    giveBack('tenants', 'tenant_id'),
    db
      .prepare(
        `INSERT INTO usage_ledger (${LEDGER_COLUMNS})
         SELECT generation_id, request_id, tenant_id, key_id, model, width, height, steps, 0, 'miss', NULL, 'expired',
                MAX(0, CAST((julianday(?2) - julianday(created_at)) * 86400000 AS INTEGER)), ?2
         FROM reservations WHERE expires_at <= ?1`,
      )
      .bind(now, iso),
    db.prepare('DELETE FROM reservations WHERE expires_at <= ?').bind(now),
  ]);
  return results[3]?.meta.changes ?? 0;
}
