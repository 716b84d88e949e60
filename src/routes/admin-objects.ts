import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';

/** What the handlers of admin objects (keys, principals, webhook endpoints, tenants) share. */

export const isoNow = (now: number) => new Date(now).toISOString();

/** The object read, or the 404 that names its kind (`no such key`). */
export function found<T>(record: T | null, kind: string): T {
  if (!record) throw new ApiError('not_found', `no such ${kind}`);
  return record;
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
