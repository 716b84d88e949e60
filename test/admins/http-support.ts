import { env } from 'cloudflare:test';
import { inject } from 'vitest';
import { createApp } from '../../src/app';
import { canonicalPath } from '../../src/domain/roles';
import { call, DEFAULT_MODEL, unique, type CallOptions, type CallResult, type TestEnv } from '../helpers/api';
import { seedPriceRow } from '../helpers/models';
import { addKey, createTenantWithKey } from '../helpers/tenants';

/** Calls with an admin principal's token (or the bootstrap ADMIN_TOKEN when `token` is undefined). */
export function as(token: string | undefined, method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  if (token === undefined) return call(method, path, { ...options, admin: true });
  return call(method, path, { ...options, headers: { ...options.headers, authorization: `Bearer ${token}` } });
}

export interface Principal {
  id: string;
  token: string;
}

/** A new admin principal, made by the bootstrap owner through the API. */
export async function newPrincipal(role: string, tenantId?: string): Promise<Principal> {
  const r = await call('POST', '/admin/admins', { admin: true, json: { name: unique(role), role, ...(tenantId ? { tenant_id: tenantId } : {}) } });
  if (r.status !== 201) throw new Error(`creating a ${role}: ${r.status} ${r.text()}`);
  return { id: r.json().id, token: r.json().token };
}

/** Every admin route the router serves, as `METHOD /path/{param}`. */
export function servedAdminRoutes(): string[] {
  const served = createApp()
    .routes.filter((r) => r.path.startsWith('/admin/') && r.method !== 'ALL')
    .map((r) => `${r.method} ${canonicalPath(r.path)}`);
  return [...new Set(served)].sort();
}

/** A request against one route, its objects made fresh (a revoke or rotate uses them up) in `tenantId`. */
export interface RouteCall {
  path: string;
  json?: unknown;
}
export type RouteRequest = (tenantId: string) => Promise<RouteCall>;

const freshKey = async (tenantId: string) => (await addKey(tenantId)).keyId;
const freshAdmin = async () => (await newPrincipal('viewer')).id;
/**
 * An endpoint of `tenantId` that takes only budget refusals, which these tests never cause, so no
 * delivery is made to the public URL that creating one without the loopback flag needs.
 */
const webhookJson = (tenantId: string) => ({ url: 'https://hooks.example.com/imagegate', events: ['budget.refused'], tenant_id: tenantId });
/** An endpoint on the loopback receiver (test/node/webhook-receiver.ts), since the test route delivers whatever it takes. */
const freshWebhook = async (tenantId: string) => {
  const url = `http://127.0.0.1:${inject('webhookPort')}/hooks/${unique('routes')}`;
  const loopbackEnv = { ...env, WEBHOOK_ALLOW_LOOPBACK: 'true' } as TestEnv;
  const r = await call('POST', '/admin/webhooks', { admin: true, env: loopbackEnv, json: { ...webhookJson(tenantId), url } });
  if (r.status !== 201) throw new Error(`creating a webhook: ${r.status} ${r.text()}`);
  return r.json().id as string;
};

/**
 * How to call each admin route with a valid request, keyed as the router names it. Lists take the
 * tenant as their `tenant_id` filter, so a tenant admin asking for another tenant's rows is seen.
 */
export const ROUTE_REQUESTS: Record<string, RouteRequest> = {
  'POST /admin/tenants': async () => ({ path: '/admin/tenants', json: { name: unique('t') } }),
  'GET /admin/tenants': async (t) => ({ path: `/admin/tenants?tenant_id=${t}` }),
  'GET /admin/tenants/{id}': async (t) => ({ path: `/admin/tenants/${t}` }),
  'PATCH /admin/tenants/{id}': async (t) => ({ path: `/admin/tenants/${t}`, json: { budget_usd: '100' } }),
  'POST /admin/tenants/{id}/keys': async (t) => ({ path: `/admin/tenants/${t}/keys`, json: { name: unique('k') } }),
  'GET /admin/keys/{id}': async (t) => ({ path: `/admin/keys/${await freshKey(t)}` }),
  'PATCH /admin/keys/{id}': async (t) => ({ path: `/admin/keys/${await freshKey(t)}`, json: { name: unique('renamed') } }),
  'DELETE /admin/keys/{id}': async (t) => ({ path: `/admin/keys/${await freshKey(t)}` }),
  'POST /admin/keys/{id}/rotate': async (t) => ({ path: `/admin/keys/${await freshKey(t)}/rotate`, json: { grace_seconds: 60 } }),
  'GET /admin/models': async () => ({ path: '/admin/models' }),
  'GET /admin/models/{model}': async () => ({ path: `/admin/models/${encodeURIComponent(DEFAULT_MODEL)}` }),
  'PUT /admin/models/{model}': async () => {
    const model = `test/${unique('m')}`;
    return { path: `/admin/models/${encodeURIComponent(model)}`, json: seedPriceRow({ model }) };
  },
  'GET /admin/models/{model}/prices': async () => ({ path: `/admin/models/${encodeURIComponent(DEFAULT_MODEL)}/prices` }),
  'GET /admin/usage': async (t) => ({ path: `/admin/usage?tenant_id=${t}` }),
  'GET /admin/audit': async (t) => ({ path: `/admin/audit?tenant_id=${t}` }),
  'GET /admin/health': async () => ({ path: '/admin/health' }),
  'GET /admin/metrics': async () => ({ path: '/admin/metrics' }),
  'POST /admin/admins': async () => ({ path: '/admin/admins', json: { name: unique('a'), role: 'viewer' } }),
  'GET /admin/admins': async () => ({ path: '/admin/admins' }),
  'GET /admin/admins/{id}': async () => ({ path: `/admin/admins/${await freshAdmin()}` }),
  'DELETE /admin/admins/{id}': async () => ({ path: `/admin/admins/${await freshAdmin()}` }),
  'POST /admin/admins/{id}/rotate': async () => ({ path: `/admin/admins/${await freshAdmin()}/rotate`, json: { grace_seconds: 0 } }),
  'POST /admin/webhooks': async (t) => ({ path: '/admin/webhooks', json: webhookJson(t) }),
  'GET /admin/webhooks': async (t) => ({ path: `/admin/webhooks?tenant_id=${t}` }),
  'GET /admin/webhooks/{id}': async (t) => ({ path: `/admin/webhooks/${await freshWebhook(t)}` }),
  'DELETE /admin/webhooks/{id}': async (t) => ({ path: `/admin/webhooks/${await freshWebhook(t)}` }),
  'POST /admin/webhooks/{id}/rotate-secret': async (t) => ({ path: `/admin/webhooks/${await freshWebhook(t)}/rotate-secret` }),
  'POST /admin/webhooks/{id}/test': async (t) => ({ path: `/admin/webhooks/${await freshWebhook(t)}/test` }),
  'GET /admin/webhooks/{id}/deliveries': async (t) => ({ path: `/admin/webhooks/${await freshWebhook(t)}/deliveries` }),
};

/** Two tenants, each with a key, and one principal of every role (the tenant admin bound to `own`). */
export async function cast() {
  const own = await createTenantWithKey({ tenant: { budget_usd: '10' } });
  const other = await createTenantWithKey({ tenant: { budget_usd: '10' } });
  const [owner, admin, viewer, tenantAdmin] = await Promise.all([
    newPrincipal('owner'),
    newPrincipal('admin'),
    newPrincipal('viewer'),
    newPrincipal('tenant_admin', own.tenantId),
  ]);
  return { own, other, owner, admin, viewer, tenantAdmin };
}
