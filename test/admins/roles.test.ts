import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { ROUTE_ACTIONS } from '../../src/domain/audit';
import {
  ADMIN_POLICY,
  BOOTSTRAP_PRINCIPAL,
  authorize,
  canonicalPath,
  keyBudgetProblem,
  looksLikeAdminToken,
  needsTarget,
  newAdminToken,
  ownedTenant,
  policyFor,
  rolesFor,
  tenantScope,
  type Decision,
  type Principal,
  type Role,
} from '../../src/domain/roles';

const OWN = 'ten_own';
const OTHER = 'ten_other';

function principal(role: Role): Principal {
  return { type: 'admin', id: `adm_${role}`, name: role, role, tenantId: role === 'tenant_admin' ? OWN : null };
}

type Row = [method: string, path: string, owner: Decision, admin: Decision, viewer: Decision, taOwn: Decision, taOther: Decision];
const A = 'allow';
const F = 'forbidden';
const N = 'not_found';

/**
 * Written out by hand from docs/admin.md, not derived from the policy table, so a wrong entry in
 * the table fails here. taOwn/taOther: a tenant_admin on its own tenant's object / another's.
 */
const EXPECTED: Row[] = [
  ['POST', '/admin/tenants', A, A, F, F, F],
  ['GET', '/admin/tenants', A, A, A, A, N],
  ['GET', '/admin/tenants/{id}', A, A, A, A, N],
  ['PATCH', '/admin/tenants/{id}', A, A, F, F, N],
  ['POST', '/admin/tenants/{id}/keys', A, A, F, A, N],
  ['GET', '/admin/keys/{id}', A, A, A, A, N],
  ['PATCH', '/admin/keys/{id}', A, A, F, A, N],
  ['DELETE', '/admin/keys/{id}', A, A, F, A, N],
  ['POST', '/admin/keys/{id}/rotate', A, A, F, A, N],
  ['GET', '/admin/models', A, A, A, F, F],
  ['GET', '/admin/models/{model}', A, A, A, F, F],
  ['PUT', '/admin/models/{model}', A, A, F, F, F],
  ['GET', '/admin/models/{model}/prices', A, A, A, F, F],
  ['GET', '/admin/usage', A, A, A, A, N],
  ['GET', '/admin/audit', A, A, A, A, N],
  ['GET', '/admin/health', A, A, A, F, F],
  ['GET', '/admin/metrics', A, A, A, F, F],
  ['POST', '/admin/admins', A, F, F, F, F],
  ['GET', '/admin/admins', A, F, F, F, F],
  ['GET', '/admin/admins/{id}', A, F, F, F, F],
  ['DELETE', '/admin/admins/{id}', A, F, F, F, F],
  ['POST', '/admin/admins/{id}/rotate', A, F, F, F, F],
  ['POST', '/admin/webhooks', A, A, F, A, N],
  ['GET', '/admin/webhooks', A, A, A, A, N],
  ['GET', '/admin/webhooks/{id}', A, A, A, A, N],
  ['DELETE', '/admin/webhooks/{id}', A, A, F, A, N],
  ['POST', '/admin/webhooks/{id}/rotate-secret', A, A, F, A, N],
  ['POST', '/admin/webhooks/{id}/test', A, A, F, A, N],
  ['GET', '/admin/webhooks/{id}/deliveries', A, A, A, A, N],
];

describe('the admin policy: role × route', () => {
  it.each(EXPECTED)('%s %s', (method, path, owner, admin, viewer, taOwn, taOther) => {
    expect(authorize(principal('owner'), method, path, { tenantId: OTHER })).toBe(owner);
    expect(authorize(BOOTSTRAP_PRINCIPAL, method, path, { tenantId: OTHER })).toBe(owner);
    expect(authorize(principal('admin'), method, path, { tenantId: OTHER })).toBe(admin);
    expect(authorize(principal('viewer'), method, path, { tenantId: OTHER })).toBe(viewer);
    expect(authorize(principal('tenant_admin'), method, path, { tenantId: OWN })).toBe(taOwn);
    expect(authorize(principal('tenant_admin'), method, path, { tenantId: OTHER })).toBe(taOther);
  });

  it('covers every route of the policy table and no route twice', () => {
    const expected = EXPECTED.map(([m, p]) => `${m} ${p}`).sort();
    const table = ADMIN_POLICY.map((p) => `${p.method} ${p.path}`);
    expect(new Set(table).size).toBe(table.length);
    expect(table.sort()).toEqual(expected);
  });

  it('has an entry for every admin route the router serves (each route is declared once, with its document entry)', () => {
    const served = createApp()
      .routes.filter((r) => r.path.startsWith('/admin/') && r.method !== 'ALL')
      .map((r) => `${r.method} ${canonicalPath(r.path)}`);
    expect(served.length).toBeGreaterThan(10);
    for (const route of new Set(served)) {
      const [method = '', path = ''] = route.split(' ');
      expect(policyFor(method, path), route).toBeDefined();
    }
  });

  it('names an audit action for every route that changes something, and for no route that only reads', () => {
    const changing = ADMIN_POLICY.filter((p) => p.method !== 'GET').map((p) => `${p.method} ${p.path}`);
    expect(Object.keys(ROUTE_ACTIONS).sort()).toEqual(changing.sort());
    for (const action of Object.values(ROUTE_ACTIONS)) expect(action).toMatch(/^[a-z]+\.[a-z_]+$/);
  });

  it('refuses a route it does not know, to every role', () => {
    for (const role of ['owner', 'admin', 'viewer', 'tenant_admin'] as const) {
      expect(authorize(principal(role), 'GET', '/admin/secrets')).toBe('forbidden');
      expect(authorize(principal(role), 'POST', '/admin/usage')).toBe('forbidden');
    }
  });

  it('reads Hono patterns and OpenAPI patterns as the same route, and methods in any case', () => {
    expect(canonicalPath('/admin/models/:model{.+}')).toBe('/admin/models/{model}');
    expect(canonicalPath('/admin/keys/:id/rotate')).toBe('/admin/keys/{id}/rotate');
    expect(authorize(principal('viewer'), 'get', '/admin/keys/:id')).toBe('allow');
    expect(authorize(principal('viewer'), 'patch', '/admin/keys/:id')).toBe('forbidden');
  });
});

describe('a tenant admin', () => {
  const ta = principal('tenant_admin');

  it('fails closed when a tenant-bound route does not say whose object it is', () => {
    expect(needsTarget(ta, 'PATCH', '/admin/keys/{id}')).toBe(true);
    expect(authorize(ta, 'PATCH', '/admin/keys/{id}')).toBe('forbidden');
    expect(authorize(ta, 'GET', '/admin/tenants/{id}')).toBe('forbidden');
  });

  it('gets 404 for an object that does not exist, as for another tenant', () => {
    expect(authorize(ta, 'GET', '/admin/keys/{id}', null)).toBe('not_found');
    expect(authorize(ta, 'PATCH', '/admin/tenants/{id}', null)).toBe('not_found');
  });

  it('reads lists narrowed to its tenant, and only those', () => {
    expect(needsTarget(ta, 'GET', '/admin/audit')).toBe(false);
    expect(authorize(ta, 'GET', '/admin/audit')).toBe('allow');
    expect(tenantScope(ta)).toBe(OWN);
    expect(tenantScope(principal('viewer'))).toBeNull();
    expect(needsTarget(principal('admin'), 'PATCH', '/admin/keys/{id}')).toBe(false);
  });

  it("creates a webhook endpoint for its own tenant only: asked or not, another tenant's is 404, every tenant's 403", () => {
    expect(ownedTenant(ta, undefined)).toEqual({ tenantId: OWN });
    expect(ownedTenant(ta, OWN)).toEqual({ tenantId: OWN });
    expect(ownedTenant(ta, OTHER)).toBe('not_found');
    expect(ownedTenant(ta, null)).toBe('forbidden');
    expect(ownedTenant(principal('admin'), null)).toEqual({ tenantId: null });
    expect(ownedTenant(principal('admin'), undefined)).toEqual({ tenantId: null });
    expect(ownedTenant(principal('owner'), OTHER)).toEqual({ tenantId: OTHER });
  });

  it('without a tenant is refused everything (a record the schema should never hold)', () => {
    const unbound: Principal = { ...ta, tenantId: null };
    expect(authorize(unbound, 'GET', '/admin/keys/{id}', { tenantId: null })).toBe('forbidden');
    expect(authorize(unbound, 'GET', '/admin/usage')).toBe('forbidden');
  });

  it('is named in the document only on routes it may call', () => {
    expect(rolesFor('POST', '/admin/tenants/{id}/keys')).toEqual(['owner', 'admin', 'tenant_admin']);
    expect(rolesFor('PATCH', '/admin/tenants/{id}')).toEqual(['owner', 'admin']);
    expect(rolesFor('GET', '/admin/audit')).toEqual(['owner', 'admin', 'viewer', 'tenant_admin']);
    expect(rolesFor('GET', '/admin/admins')).toEqual(['owner']);
    expect(rolesFor('GET', '/nowhere')).toEqual([]);
  });
});

describe("a key's budget against its tenant's", () => {
  it.each([
    [10n, 10n, true],
    [9n, 10n, true],
    [11n, 10n, false],
    [0n, 0n, true],
    [1n, 0n, false],
    [null, 10n, true],
    [undefined, 10n, true],
    [1_000_000n, null, true],
  ] as const)('key %s, tenant %s → fits: %s', (key, tenant, fits) => {
    const problem = keyBudgetProblem(key, tenant);
    if (fits) expect(problem).toBeNull();
    else expect(problem).toEqual({ param: 'budget_usd', message: expect.stringContaining('may not exceed') });
  });
});

describe('admin tokens', () => {
  it('are iga_ and 40 base62 characters, different every time', () => {
    const a = newAdminToken();
    expect(a).toMatch(/^iga_[0-9A-Za-z]{40}$/);
    expect(looksLikeAdminToken(a)).toBe(true);
    expect(newAdminToken()).not.toBe(a);
    expect(looksLikeAdminToken('igk_' + a.slice(4))).toBe(false);
    expect(looksLikeAdminToken('iga_short')).toBe(false);
  });
});
