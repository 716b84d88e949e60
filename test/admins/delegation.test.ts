import { describe, expect, it } from 'vitest';
import { call, genBody, loopback, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { createTenantWithKey } from '../helpers/tenants';
import { as, newPrincipal } from './http-support';

/* docs/admin.md: what a tenant admin may do with its own tenant, and nothing beyond it. */

async function teamLead(tenantBudget: string | null = '10') {
  const own = await createTenantWithKey({ tenant: { budget_usd: tenantBudget } });
  const other = await createTenantWithKey();
  const lead = await newPrincipal('tenant_admin', own.tenantId);
  return { own, other, lead };
}

describe('a tenant admin', () => {
  it('reads its tenant with its keys, but may not change its budget, limits, cache scope, models or name (403)', async () => {
    const { own, lead } = await teamLead();
    const read = await as(lead.token, 'GET', `/admin/tenants/${own.tenantId}`);
    expect(read.status).toBe(200);
    expect(read.json().keys.map((k: { id: string }) => k.id)).toEqual([own.keyId]);
    for (const json of [{ budget_usd: '1000' }, { rate_limit_rpm: 1000 }, { max_concurrent: 50 }, { cache_scope: 'shared' }, { allowed_models: null }, { name: 'x' }]) {
      expectError(await as(lead.token, 'PATCH', `/admin/tenants/${own.tenantId}`, { json }), 403, 'forbidden');
    }
    expect((await call('GET', `/admin/tenants/${own.tenantId}`, { admin: true })).json().budget_usd).toBe('10');
  });

  it("creates, reads, changes, rotates and revokes its tenant's keys", async () => {
    const { own, lead } = await teamLead();
    const created = await as(lead.token, 'POST', `/admin/tenants/${own.tenantId}/keys`, { json: { name: unique('k'), budget_usd: '2' } });
    expect(created.status, created.text()).toBe(201);
    const id = created.json().id as string;
    expect((await as(lead.token, 'GET', `/admin/keys/${id}`)).json().budget_usd).toBe('2');
    expect((await as(lead.token, 'PATCH', `/admin/keys/${id}`, { json: { budget_usd: '3', rate_limit_rpm: 5 } })).json()).toMatchObject({ budget_usd: '3', rate_limit_rpm: 5 });
    const rotated = await as(lead.token, 'POST', `/admin/keys/${id}/rotate`, { json: { grace_seconds: 30 } });
    expect(rotated.status).toBe(200);
    expect((await call('GET', '/v1/usage', { key: rotated.json().key })).status).toBe(200);
    expect((await as(lead.token, 'DELETE', `/admin/keys/${id}`)).status).toBe(204);
    expectError(await call('GET', '/v1/usage', { key: rotated.json().key }), 401, 'unauthorized');
  });

  it("may not give a key a budget above its tenant's: 400 naming budget_usd, and nothing is written", async () => {
    const { own, lead } = await teamLead('10');
    expectError(await as(lead.token, 'POST', `/admin/tenants/${own.tenantId}/keys`, { json: { name: unique('k'), budget_usd: '10.000000001' } }), 400, 'invalid_request', {
      param: 'budget_usd',
    });
    expect((await call('GET', `/admin/tenants/${own.tenantId}`, { admin: true })).json().keys).toHaveLength(1);
    expectError(await as(lead.token, 'PATCH', `/admin/keys/${own.keyId}`, { json: { budget_usd: '11' } }), 400, 'invalid_request', { param: 'budget_usd' });
    expect((await call('GET', `/admin/keys/${own.keyId}`, { admin: true })).json().budget_usd).toBeNull();
    expect((await as(lead.token, 'PATCH', `/admin/keys/${own.keyId}`, { json: { budget_usd: '10' } })).status).toBe(200);
    // the owner sets budgets as it likes; a tenant without a budget caps nothing
    expect((await call('PATCH', `/admin/keys/${own.keyId}`, { admin: true, json: { budget_usd: '50' } })).status).toBe(200);
    const open = await teamLead(null);
    expect((await as(open.lead.token, 'PATCH', `/admin/keys/${open.own.keyId}`, { json: { budget_usd: '500' } })).status).toBe(200);
  });

  it("gets 404 for another tenant's objects, and for objects that do not exist", async () => {
    const { other, lead } = await teamLead();
    for (const [method, path, json] of [
      ['GET', `/admin/tenants/${other.tenantId}`],
      ['POST', `/admin/tenants/${other.tenantId}/keys`, { name: 'k' }],
      ['GET', `/admin/keys/${other.keyId}`],
      ['PATCH', `/admin/keys/${other.keyId}`, { disabled: true }],
      ['DELETE', `/admin/keys/${other.keyId}`],
      ['POST', `/admin/keys/${other.keyId}/rotate`],
      ['GET', '/admin/keys/key_nope'],
      ['GET', '/admin/tenants/ten_nope'],
      ['GET', `/admin/usage?tenant_id=${other.tenantId}`],
      ['GET', `/admin/audit?tenant_id=${other.tenantId}`],
    ] as [string, string, unknown?][]) {
      expectError(await as(lead.token, method, path, json === undefined ? {} : { json }), 404, 'not_found');
    }
    expect((await call('GET', '/v1/usage', { key: other.key })).status).toBe(200);
  });

  it('is refused (403) every route outside its tenant', async () => {
    const { lead } = await teamLead();
    for (const [method, path] of [
      ['POST', '/admin/tenants'],
      ['GET', '/admin/models'],
      ['PUT', '/admin/models/a%2Fb'],
      ['GET', '/admin/admins'],
      ['POST', '/admin/admins'],
    ]) {
      expectError(await as(lead.token, method ?? '', path ?? '', method === 'GET' ? {} : { json: { name: 'x' } }), 403, 'forbidden');
    }
  });

  it('sees its own tenant in the tenant list, and its own usage and audit entries only', async () => {
    const { own, other, lead } = await teamLead();
    for (const t of [own, other]) {
      const { env: e } = loopback('lead');
      expect((await call('POST', '/image/generation', { key: t.key, json: genBody(unique('lead')), env: e })).status).toBe(200);
    }
    const tenants = (await as(lead.token, 'GET', '/admin/tenants')).json().data as { id: string }[];
    expect(tenants.map((t) => t.id)).toEqual([own.tenantId]);
    const usage = (await as(lead.token, 'GET', '/admin/usage?group_by=tenant')).json();
    expect(usage.rows.map((r: { group: string }) => r.group)).toEqual([own.tenantId]);
    const csv = (await as(lead.token, 'GET', '/admin/usage?group_by=tenant&format=csv')).text();
    expect(csv).toContain(own.tenantId);
    expect(csv).not.toContain(other.tenantId);
    const entries = (await as(lead.token, 'GET', '/admin/audit?limit=200')).json().entries as { tenant_id: string }[];
    expect(entries.length).toBeGreaterThan(0);
    expect(new Set(entries.map((e) => e.tenant_id))).toEqual(new Set([own.tenantId]));
  });
});
