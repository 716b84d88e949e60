import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { createApp } from '../../src/app';
import { rolesFor } from '../../src/domain/roles';
import { as, cast, newPrincipal, ROUTE_REQUESTS, servedAdminRoutes } from './http-support';

/*
 * docs/admin.md: every admin route the router serves, called over HTTP by every role. Written out
 * by hand, not derived from the policy table: a route the router gains without a row here fails.
 * Columns: the bootstrap ADMIN_TOKEN, an owner, an admin, a viewer (all on another tenant's objects,
 * which must not matter to them), then a tenant admin on its own tenant's objects and on another's.
 */
const A = 'allow';
const F = 'forbidden';
const N = 'not_found';
type Expect = typeof A | typeof F | typeof N;
type Row = [bootstrap: Expect, owner: Expect, admin: Expect, viewer: Expect, taOwn: Expect, taOther: Expect];

const EXPECTED: Record<string, Row> = {
  'POST /admin/tenants': [A, A, A, F, F, F],
  'GET /admin/tenants': [A, A, A, A, A, N],
  'GET /admin/tenants/{id}': [A, A, A, A, A, N],
  'PATCH /admin/tenants/{id}': [A, A, A, F, F, N],
  'POST /admin/tenants/{id}/keys': [A, A, A, F, A, N],
  'GET /admin/keys/{id}': [A, A, A, A, A, N],
  'PATCH /admin/keys/{id}': [A, A, A, F, A, N],
  'DELETE /admin/keys/{id}': [A, A, A, F, A, N],
  'POST /admin/keys/{id}/rotate': [A, A, A, F, A, N],
  'GET /admin/models': [A, A, A, A, F, F],
  'GET /admin/models/{model}': [A, A, A, A, F, F],
  'PUT /admin/models/{model}': [A, A, A, F, F, F],
  'GET /admin/models/{model}/prices': [A, A, A, A, F, F],
  'GET /admin/usage': [A, A, A, A, A, N],
  'GET /admin/audit': [A, A, A, A, A, N],
  'GET /admin/health': [A, A, A, A, F, F],
  'GET /admin/metrics': [A, A, A, A, F, F],
  'POST /admin/admins': [A, A, F, F, F, F],
  'GET /admin/admins': [A, A, F, F, F, F],
  'GET /admin/admins/{id}': [A, A, F, F, F, F],
  'DELETE /admin/admins/{id}': [A, A, F, F, F, F],
  'POST /admin/admins/{id}/rotate': [A, A, F, F, F, F],
  'POST /admin/webhooks': [A, A, A, F, A, N],
  'GET /admin/webhooks': [A, A, A, A, A, N],
  'GET /admin/webhooks/{id}': [A, A, A, A, A, N],
  'DELETE /admin/webhooks/{id}': [A, A, A, F, A, N],
  'POST /admin/webhooks/{id}/rotate-secret': [A, A, A, F, A, N],
  'POST /admin/webhooks/{id}/test': [A, A, A, F, A, N],
  'GET /admin/webhooks/{id}/deliveries': [A, A, A, A, A, N],
};

let people: Awaited<ReturnType<typeof cast>>;
beforeAll(async () => {
  people = await cast();
});

describe('role × route, over HTTP', () => {
  it('has a row and a request for every admin route the router serves, and none for a route it does not', () => {
    const served = servedAdminRoutes();
    expect(served.length).toBeGreaterThanOrEqual(19);
    expect(Object.keys(EXPECTED).sort()).toEqual(served);
    expect(Object.keys(ROUTE_REQUESTS).sort()).toEqual(served);
  });

  it.each(Object.entries(EXPECTED))('%s', async (route, row) => {
    const method = route.split(' ')[0] ?? '';
    const callers: [string, string | undefined, string][] = [
      ['bootstrap', undefined, people.other.tenantId],
      ['owner', people.owner.token, people.other.tenantId],
      ['admin', people.admin.token, people.other.tenantId],
      ['viewer', people.viewer.token, people.other.tenantId],
      ['tenant_admin on its own', people.tenantAdmin.token, people.own.tenantId],
      ['tenant_admin on another', people.tenantAdmin.token, people.other.tenantId],
    ];
    for (const [i, [who, token, tenantId]] of callers.entries()) {
      const request = await (ROUTE_REQUESTS[route] ?? (() => Promise.reject(new Error(`no request for ${route}`))))(tenantId);
      const r = await as(token, method, request.path, request.json === undefined ? {} : { json: request.json });
      const expected = row[i];
      if (expected === A) expect(r.status, `${who}: ${r.text()}`).toBeLessThan(300);
      else if (expected === F) expectError(r, 403, 'forbidden');
      else expectError(r, 404, 'not_found');
    }
  });
});

describe('admin auth', () => {
  it('a revoked principal gets 401 at once; an unknown or malformed token 401; ADMIN_TOKEN unset is 503 for principals too', async () => {
    const p = await newPrincipal('viewer');
    expect((await as(p.token, 'GET', '/admin/tenants')).status).toBe(200);
    expect((await call('DELETE', `/admin/admins/${p.id}`, { admin: true })).status).toBe(204);
    expectError(await as(p.token, 'GET', '/admin/tenants'), 401, 'unauthorized');
    expectError(await as(`iga_${'A'.repeat(40)}`, 'GET', '/admin/tenants'), 401, 'unauthorized');
    expectError(await as('iga_short', 'GET', '/admin/tenants'), 401, 'unauthorized');
    const live = await newPrincipal('owner');
    const disabled = { ...env, ADMIN_TOKEN: '' } as TestEnv;
    expectError(await as(live.token, 'GET', '/admin/tenants', { env: disabled }), 503, 'admin_disabled');
  });

  it('a principal cannot revoke or rotate the bootstrap token, which is no row', async () => {
    expectError(await call('DELETE', '/admin/admins/admin_token', { admin: true }), 404, 'not_found');
    expect((await call('GET', '/admin/tenants', { admin: true })).status).toBe(200);
    expect(ADMIN_TOKEN).toBe('test-admin-token');
  });

  it('a viewer is refused a change before its body is read: 403, not 400 or 415', async () => {
    expectError(await as(people.viewer.token, 'POST', '/admin/tenants', { body: 'not json' }), 403, 'forbidden');
    expectError(await as(people.viewer.token, 'PATCH', `/admin/tenants/${people.own.tenantId}`, { json: { nope: 1 } }), 403, 'forbidden');
  });

  it('creating a principal: tenant_admin needs an existing tenant_id, other roles take none, the role is one of four', async () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ name: 'x', role: 'tenant_admin' }, 'tenant_id'],
      [{ name: 'x', role: 'tenant_admin', tenant_id: 'ten_nope' }, 'tenant_id'],
      [{ name: 'x', role: 'viewer', tenant_id: people.own.tenantId }, 'tenant_id'],
      [{ name: 'x', role: 'superuser' }, 'role'],
      [{ role: 'viewer' }, 'name'],
      [{ name: 'x', role: 'viewer', token: 'iga_mine' }, 'token'],
    ];
    for (const [json, param] of bad) expectError(await call('POST', '/admin/admins', { admin: true, json }), 400, 'invalid_request', { param });
  });
});

describe('the OpenAPI document', () => {
  it('names, on every admin route, the roles the policy lets call it', async () => {
    createApp();
    createApp();
    const doc = (await call('GET', '/openapi.json')).json() as { paths: Record<string, Record<string, { description?: string; 'x-roles'?: string[] }>> };
    for (const route of servedAdminRoutes()) {
      const [method = '', path = ''] = route.split(' ');
      const operation = doc.paths[path]?.[method.toLowerCase()];
      expect(operation, route).toBeDefined();
      expect(operation?.['x-roles'], route).toEqual(rolesFor(method, path));
      // once, however many apps were built (each test clock builds one)
      expect(operation?.description?.match(/\*\*Roles:\*\* /g), route).toHaveLength(1);
    }
    expect(doc.paths['/admin/admins']?.post?.['x-roles']).toEqual(['owner']);
    expect(doc.paths['/admin/keys/{id}']?.patch?.['x-roles']).toEqual(['owner', 'admin', 'tenant_admin']);
  });
});
