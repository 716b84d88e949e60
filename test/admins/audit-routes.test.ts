import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_ACTIONS } from '../../src/domain/audit';
import { sha256Hex } from '../../src/domain/sha256';
import { call, unique } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';
import { as, newPrincipal, ROUTE_REQUESTS, servedAdminRoutes, type Principal } from './http-support';

/* docs/admin.md: one audit entry per admin change, in the same batch as the change, never a secret. */

const SECRET = /(igk|iga)_[0-9A-Za-z]{32,}/;

interface Entry {
  id: string;
  at: string;
  actor: { type: string; id: string; name: string; role: string };
  action: string;
  target: { type: string; id: string };
  tenant_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  request_id: string;
}

/** The entries a request wrote, read back through GET /admin/audit by its actor. */
async function entriesOf(requestId: string, actorId: string): Promise<Entry[]> {
  const r = await call('GET', `/admin/audit?actor_id=${actorId}&limit=200`, { admin: true });
  expect(r.status, r.text()).toBe(200);
  return (r.json().entries as Entry[]).filter((e) => e.request_id === requestId);
}

/** Every secret hash the gateway keeps: none may show in an entry. */
async function storedHashes(): Promise<string[]> {
  const keys = await env.DB.prepare('SELECT key_hash AS h FROM api_keys UNION ALL SELECT previous_key_hash FROM api_keys WHERE previous_key_hash IS NOT NULL').all<{ h: string }>();
  const admins = await env.DB.prepare('SELECT token_hash AS h FROM admin_principals UNION ALL SELECT previous_token_hash FROM admin_principals WHERE previous_token_hash IS NOT NULL').all<{ h: string }>();
  return [...keys.results, ...admins.results].map((r) => r.h);
}

let owner: Principal;
beforeAll(async () => {
  owner = await newPrincipal('owner');
});

describe('the audit log over HTTP', () => {
  const changing = servedAdminRoutes().filter((r) => !r.startsWith('GET '));

  it('every admin route that changes something names its action (a new route without one fails)', () => {
    expect(changing.length).toBeGreaterThanOrEqual(10);
    for (const route of changing) expect(ROUTE_ACTIONS[route], route).toBeDefined();
  });

  it.each(changing)('%s writes exactly one entry: actor, action, target, tenant, request id, no secret', async (route) => {
    const method = route.split(' ')[0] ?? '';
    const t = await createTenantWithKey();
    const request = await (ROUTE_REQUESTS[route] ?? (() => Promise.reject(new Error(`no request for ${route}`))))(t.tenantId);
    const r = await as(owner.token, method, request.path, request.json === undefined ? {} : { json: request.json });
    expect(r.status, r.text()).toBeLessThan(300);
    const requestId = r.headers.get('x-request-id') ?? '';
    const entries = await entriesOf(requestId, owner.id);
    expect(entries, route).toHaveLength(1);
    const [e] = entries as [Entry];
    expect(e.action).toBe(ROUTE_ACTIONS[route]);
    expect(e.actor).toMatchObject({ type: 'admin', id: owner.id, role: 'owner' });
    expect(e.target.id.length).toBeGreaterThan(0);
    expect(e.before !== null || e.after !== null).toBe(true);
    const answerId = r.status === 204 ? null : (r.json().id ?? r.json().model);
    if (answerId) expect(e.target.id).toBe(answerId);
    if (e.target.type === 'key' || e.target.type === 'tenant') expect(e.tenant_id).toBe(route === 'POST /admin/tenants' ? e.target.id : t.tenantId);
    const text = JSON.stringify(e);
    expect(text).not.toMatch(SECRET);
    for (const hash of await storedHashes()) expect(text).not.toContain(hash);
    if (r.status !== 204) {
      const secret = r.json().key ?? r.json().token;
      if (secret) expect(text).not.toContain(secret.slice(4));
    }
  });

  it("the bootstrap token is the actor 'admin_token'; before/after hold only the fields that changed", async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: '5' } });
    const r = await call('PATCH', `/admin/tenants/${t.tenantId}`, { admin: true, json: { budget_usd: '7.5', rate_limit_rpm: null } });
    const [e] = await entriesOf(r.headers.get('x-request-id') ?? '', 'admin_token');
    expect(e).toMatchObject({
      actor: { type: 'admin_token', id: 'admin_token', name: 'ADMIN_TOKEN', role: 'owner' },
      action: 'tenant.update',
      target: { type: 'tenant', id: t.tenantId },
      tenant_id: t.tenantId,
      before: { budget_usd: '5' },
      after: { budget_usd: '7.5' },
    });
  });

  it('a request that changes nothing writes no entry (revoking a revoked key), a refused one neither', async () => {
    const t = await createTenantWithKey();
    expect((await call('DELETE', `/admin/keys/${t.keyId}`, { admin: true })).status).toBe(204);
    const again = await call('DELETE', `/admin/keys/${t.keyId}`, { admin: true });
    expect(again.status).toBe(204);
    expect(await entriesOf(again.headers.get('x-request-id') ?? '', 'admin_token')).toEqual([]);
    const viewer = await newPrincipal('viewer');
    const refused = await as(viewer.token, 'PATCH', `/admin/tenants/${t.tenantId}`, { json: { name: 'x' } });
    expect(refused.status).toBe(403);
    expect(await entriesOf(refused.headers.get('x-request-id') ?? '', viewer.id)).toEqual([]);
  });

  it('no admin answer that reads carries a key, a token or a hash', async () => {
    const t = await createTenantWithKey();
    await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, json: { grace_seconds: 60 } });
    const hashes = await storedHashes();
    for (const path of ['/admin/tenants', `/admin/tenants/${t.tenantId}`, `/admin/keys/${t.keyId}`, '/admin/admins', `/admin/admins/${owner.id}`, '/admin/audit?limit=200']) {
      const text = (await call('GET', path, { admin: true })).text();
      expect(text, path).not.toMatch(SECRET);
      for (const hash of hashes) expect(text, path).not.toContain(hash);
    }
    expect(await sha256Hex(t.key)).toHaveLength(64);
  });

  it('no route changes or deletes an entry: the table refuses both', async () => {
    await expect(env.DB.prepare("UPDATE audit_log SET action = 'x.y'").run()).rejects.toThrow(/append-only/);
    await expect(env.DB.prepare('DELETE FROM audit_log').run()).rejects.toThrow(/append-only/);
  });
});

describe('GET /admin/audit pages', () => {
  it('return every entry once, newest first, while entries are being added', async () => {
    const t = await createTenantWithKey();
    for (let i = 0; i < 6; i++) await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { name: unique('n') } });
    const all = (await call('GET', `/admin/audit?tenant_id=${t.tenantId}&limit=200`, { admin: true })).json().entries as Entry[];
    expect(all).toHaveLength(8); // tenant.create, key.create, 6 × key.update
    const seen: Entry[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await call('GET', `/admin/audit?tenant_id=${t.tenantId}&limit=3${q}`, { admin: true });
      expect(page.status, page.text()).toBe(200);
      seen.push(...page.json().entries);
      cursor = page.json().next_cursor;
      // a change between pages: newer than every page so far, so it shows on none of them
      await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { name: unique('meanwhile') } });
    } while (cursor !== null);
    expect(seen.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const times = seen.map((e) => `${e.at}|${e.id}`);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('filter by action, target, actor and time; a bad cursor, limit or time is a 400 naming it', async () => {
    const t = await createTenantWithKey();
    await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true });
    const byAction = (await call('GET', `/admin/audit?target_id=${t.keyId}&action=key.rotate`, { admin: true })).json().entries as Entry[];
    expect(byAction.map((e) => e.action)).toEqual(['key.rotate']);
    const future = (await call('GET', `/admin/audit?target_id=${t.keyId}&from=2999-01-01`, { admin: true })).json();
    expect(future).toEqual({ entries: [], next_cursor: null });
    const today = new Date().toISOString().slice(0, 10);
    expect((await call('GET', `/admin/audit?target_id=${t.keyId}&from=${today}&to=${today}`, { admin: true })).json().entries).toHaveLength(2);
    for (const [query, param] of [
      ['cursor=nope!', 'cursor'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['from=yesterday', 'from'],
      ['to=2026-02-30', 'to'],
      ['colour=red', 'colour'],
    ]) {
      const r = await call('GET', `/admin/audit?${query}`, { admin: true });
      expect(r.status, query).toBe(400);
      expect(r.json().error).toMatchObject({ code: 'invalid_request', param });
    }
  });
});
