import type { Context } from 'hono';
import type { Fields } from '../domain/audit';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import type { Change } from './admin-audit';

/** What the handlers of admin objects (keys, principals, webhook endpoints, tenants) share. */

export const isoNow = (now: number) => new Date(now).toISOString();

/** The object read, or the 404 that names its kind (`no such key`). */
export function found<T>(record: T | null, kind: string): T {
  if (!record) throw new ApiError('not_found', `no such ${kind}`);
  return record;
}

/** The object read if it is not revoked, or the 404 that names its kind: what a rotation may act on. */
export function foundLive<T extends { revokedAt: string | null }>(record: T | null, kind: string): T {
  return found(record?.revokedAt ? null : record, kind);
}

/** The fields an audit entry compares: the object's own, without the times every write moves. */
function auditFields(fields: { created_at: string; updated_at: string } & Fields): Fields {
  const { created_at: _created, updated_at: _updated, ...rest } = fields;
  return rest;
}

/**
 * The audit change of a patch: the object's fields, as `fieldsOf` shows them, before it and as the
 * patch leaves them (`after`, what the write is expected to store).
 */
export function patchChange<R>(change: Omit<Change, 'before' | 'after'>, fieldsOf: (r: R) => { created_at: string; updated_at: string } & Fields, before: R, after: R): Change {
  return { ...change, before: auditFields(fieldsOf(before)), after: auditFields(fieldsOf(after)) };
}

/**
 * Revokes an object once (docs/admin.md): one already revoked answers 204 again and writes nothing.
 * `write` applies the revocation with its audit entry, both carrying the one time it is given;
 * `forget` drops this isolate's cached copies either way, so the object stops working at once.
 */
export async function revokeOnce(c: Context<AppEnv>, record: { revokedAt: string | null }, write: (now: string) => Promise<unknown>, forget: () => void) {
  if (!record.revokedAt) await write(isoNow(c.var.deps.now()));
  forget();
  return c.body(null, 204);
}
