import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import type { Caller } from '../domain/tenants';
import { hashKey, looksLikeTenantKey } from '../domain/keys';
import { ApiError } from '../errors';
import { findCallerBySecret } from '../storage/tenants';
import { bearerToken } from './admin-auth';
import { isolateCache } from './isolate-cache';

/**
 * Keys are looked up by hash on every request, so each isolate remembers a lookup briefly.
 * docs/admin.md lets a revocation take up to 5 s to reach every isolate; admin changes made
 * through this isolate clear it at once (forgetCallers). A key's previous secret (a rotation with a
 * grace period) is remembered with the end of its grace, so a cached lookup never outlives it.
 */
const callers = isolateCache<Caller>(2_000);

export function forgetCallers(): void {
  callers.clear();
}

/** Tenant auth: `Authorization: Bearer <key>` or `x-api-key: <key>`; 401 unknown/revoked/expired, 403 disabled. */
export function tenantAuth(): MiddlewareHandler<AppEnv> {
  return async function tenantAuthMiddleware(c, next) {
    const key = bearerToken(c.req.header('authorization')) ?? c.req.header('x-api-key')?.trim() ?? null;
    if (!key) throw new ApiError('unauthorized', 'missing API key: send Authorization: Bearer <key> or x-api-key');
    if (!looksLikeTenantKey(key)) throw new ApiError('unauthorized', 'invalid API key');
    const now = c.var.deps.now();
    const hash = await hashKey(key);
    const entry = await callers.get(hash, now, async () => {
      const match = await findCallerBySecret(c.env.DB, hash, new Date(now).toISOString());
      return { value: match?.caller ?? null, graceEndsAt: match?.graceEndsAt ?? null };
    });
    const caller = entry.value;
    if (!caller) throw new ApiError('unauthorized', 'invalid API key');
    if (entry.graceEndsAt !== null && entry.graceEndsAt <= now) {
      throw new ApiError('unauthorized', 'this API key was rotated and its grace period has ended');
    }
    if (caller.key.revokedAt) throw new ApiError('unauthorized', 'this API key has been revoked');
    if (caller.key.expiresAt && Date.parse(caller.key.expiresAt) <= now) {
      throw new ApiError('unauthorized', 'this API key has expired');
    }
    if (caller.key.disabled) throw new ApiError('forbidden', `key '${caller.key.name}' is disabled`);
    if (caller.tenant.disabled) throw new ApiError('forbidden', `tenant '${caller.tenant.name}' is disabled`);
    c.set('caller', caller);
    await next();
  };
}

/** 403 unless the tenant may use `model` (`allowed_models` null = every model). */
export function assertModelAllowed(caller: Caller, model: string): void {
  const allowed = caller.tenant.allowedModels;
  if (allowed && !allowed.includes(model)) {
    throw new ApiError('forbidden', `tenant '${caller.tenant.name}' may not use model '${model}'`, { param: 'model' });
  }
}
