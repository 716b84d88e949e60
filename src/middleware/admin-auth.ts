import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from '../env';
import { hashKey, timingSafeEqual } from '../domain/keys';
import { BOOTSTRAP_PRINCIPAL, authorize, canonicalPath, looksLikeAdminToken, needsTarget, policyFor, type Principal, type Target } from '../domain/roles';
import { ApiError } from '../errors';
import { adminByToken, principalOf } from '../storage/admins';
import { getKey, getTenant } from '../storage/tenants';
import { getWebhook } from '../storage/webhooks';
import { isolateCache } from './isolate-cache';

/**
 * Admin auth and authorisation (docs/admin.md): `adminAuth` finds who is calling, `adminPolicy`
 * decides — in this one place, from the policy table in src/domain/roles.ts — whether they may call
 * the route the router matched. Handlers never check roles.
 */

/**
 * Principals are looked up by token hash, so each isolate remembers a lookup as briefly as tenant
 * keys (src/middleware/tenant-auth.ts): a revocation or a rotation reaches every isolate within
 * 2 s, and at once in the isolate that made it (forgetPrincipals). An entry also remembers when a
 * previous token's grace ends, so a cached lookup never outlives the grace.
 */
const principals = isolateCache<Principal>(2_000);

export function forgetPrincipals(): void {
  principals.clear();
}

/**
 * The console's hand-off (docs/console.md): a request the console builds in-process to call the
 * admin API carries its session's principal here, keyed by the Request object itself. Nothing an
 * outside caller sends — header, cookie or body — can put an entry here.
 */
const handedPrincipals = new WeakMap<Request, Principal>();

/** Marks an in-process request as made by `principal`, whose session the console has checked. */
export function handPrincipal(request: Request, principal: Principal): Request {
  handedPrincipals.set(request, principal);
  return request;
}

/** `Authorization: Bearer <ADMIN_TOKEN or iga_ token>`; 503 while ADMIN_TOKEN is unset, 401 for anything else. */
export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function adminAuthMiddleware(c, next) {
    const token = c.env.ADMIN_TOKEN;
    if (!token) throw new ApiError('admin_disabled', 'the admin API is disabled: ADMIN_TOKEN is not set');
    const given = bearerToken(c.req.header('authorization'));
    const handed = handedPrincipals.get(c.req.raw);
    const principal = handed ?? (given === null ? null : await principalFor(c, given, token));
    if (!principal) throw new ApiError('unauthorized', 'admin routes need Authorization: Bearer <ADMIN_TOKEN or an admin token>');
    c.set('principal', principal);
    if (c.var.log) c.var.log.admin_id = principal.id;
    await next();
  };
}

/** The principal a token names (ADMIN_TOKEN or a live admin token), or null; the console's sign-in uses it too. */
export async function principalFor(c: Context<AppEnv>, given: string, bootstrap: string): Promise<Principal | null> {
  if (await timingSafeEqual(given, bootstrap)) return BOOTSTRAP_PRINCIPAL;
  if (!looksLikeAdminToken(given)) return null;
  const now = c.var.deps.now();
  // a hash lookup: an index finds the row, so timing says nothing about any stored token
  const hash = await hashKey(given);
  const entry = await principals.get(hash, now, async () => {
    const match = await adminByToken(c.env.DB, hash, new Date(now).toISOString());
    return { value: match ? principalOf(match.admin) : null, graceEndsAt: match?.graceEndsAt ?? null };
  });
  if (entry.graceEndsAt !== null && entry.graceEndsAt <= now) return null;
  return entry.value;
}

export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

// ------------------------------------------------------------------ authorisation

type TargetOf = (db: D1Database, id: string) => Promise<Target | null>;

const tenantTarget: TargetOf = async (db, id) => ((await getTenant(db, id)) ? { tenantId: id } : null);
const keyTarget: TargetOf = async (db, id) => {
  const key = await getKey(db, id);
  return key ? { tenantId: key.tenantId } : null;
};

// a global endpoint (tenant_id null) belongs to no tenant, so a tenant admin never reaches it
const webhookTarget: TargetOf = async (db, id) => {
  const webhook = await getWebhook(db, id);
  return webhook ? { tenantId: webhook.tenantId } : null;
};

/** How to find the tenant of a per-object route's target, from its `{id}`: the one table of it. */
const TARGET_OF: Readonly<Record<string, TargetOf>> = {
  '/admin/tenants/{id}': tenantTarget,
  '/admin/tenants/{id}/keys': tenantTarget,
  '/admin/keys/{id}': keyTarget,
  '/admin/keys/{id}/rotate': keyTarget,
  '/admin/webhooks/{id}': webhookTarget,
  '/admin/webhooks/{id}/rotate-secret': webhookTarget,
  '/admin/webhooks/{id}/test': webhookTarget,
  '/admin/webhooks/{id}/deliveries': webhookTarget,
};

/**
 * Runs after `adminAuth`, before the route's own middleware (body checks included): 403
 * `forbidden` or 404 `not_found` as `authorize` decides. A path no route serves falls through to
 * the app's 404.
 */
export function adminPolicy(): MiddlewareHandler<AppEnv> {
  return async function adminPolicyMiddleware(c, next) {
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    const pattern = servingRoute(c, method);
    if (pattern === null) return next();
    const principal = c.var.principal;
    const target = await targetOf(c, principal, method, pattern);
    const decision = authorize(principal, method, pattern, target);
    if (decision === 'forbidden') {
      throw new ApiError('forbidden', `the role '${principal.role}' may not call ${method} ${canonicalPath(pattern)}`);
    }
    if (decision === 'not_found') throw new ApiError('not_found', 'no such object for this principal');
    await next();
  };
}

/** The pattern (`/admin/keys/:id`) of the first route with a handler for this method: the one that answers. */
function servingRoute(c: Context<AppEnv>, method: string): string | null {
  return matchedRoutes(c).find((r) => r.method === method)?.path ?? null;
}

/**
 * What the decision needs to know of the target: for a tenant admin on a per-object route, the
 * object's tenant (null when there is no such object); on a list, the tenant it asks to filter by.
 */
async function targetOf(c: Context<AppEnv>, principal: Principal, method: string, pattern: string): Promise<Target | null | undefined> {
  if (principal.role !== 'tenant_admin') return undefined;
  const path = canonicalPath(pattern);
  if (needsTarget(principal, method, pattern)) {
    const find = TARGET_OF[path];
    const id = pathParam(path, new URL(c.req.url).pathname, '{id}');
    return find && id !== null ? find(c.env.DB, id) : undefined;
  }
  if (policyFor(method, pattern)?.tenantAdmin === 'own_rows') {
    const asked = c.req.query('tenant_id');
    return asked === undefined ? undefined : { tenantId: asked };
  }
  return undefined;
}

/** The path segment standing where `name` stands in the route, decoded; null when it cannot be read. */
function pathParam(route: string, path: string, name: string): string | null {
  const index = route.split('/').indexOf(name);
  const raw = path.split('/')[index];
  if (index < 0 || raw === undefined) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}
