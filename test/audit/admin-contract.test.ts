import { env as baseEnv } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, unique, type TestEnv } from '../helpers/api';
import { ADMIN_ROUTE_SAMPLES } from '../helpers/admin-routes';
import { expectError } from '../helpers/errors';
import { customPriceRow } from '../helpers/models';
import { createTenantWithKey } from '../helpers/tenants';

/* docs/admin.md and docs/errors.md: admin routes, their auth, and the exact shapes docs/admin.md gives. */

const ROUTES = ADMIN_ROUTE_SAMPLES;

describe('audit docs/admin.md: admin auth', () => {
  it('every admin route answers 503 admin_disabled while ADMIN_TOKEN is unset or empty, whatever is sent', async () => {
    for (const token of [undefined, '']) {
      const env = { ...baseEnv, ADMIN_TOKEN: token } as TestEnv;
      for (const [method, path, json] of ROUTES) {
        for (const headers of [{}, { authorization: `Bearer ${ADMIN_TOKEN}` }, { authorization: 'Bearer ' }] as Record<string, string>[]) {
          const r = await call(method, path, { env, headers, ...(json !== undefined ? { json } : {}) });
          expectError(r, 503, 'admin_disabled');
        }
      }
    }
  });

  it('anything but the admin token is a 401, and no answer repeats the token', async () => {
    const { key } = await createTenantWithKey();
    const wrong: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${ADMIN_TOKEN}x` },
      { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` },
      { authorization: ADMIN_TOKEN },
      { 'x-api-key': ADMIN_TOKEN },
      { authorization: `Bearer ${key}` },
      { authorization: `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}` },
    ];
    for (const [method, path, json] of ROUTES) {
      for (const headers of wrong) {
        const r = await call(method, path, { headers, ...(json !== undefined ? { json } : {}) });
        expectError(r, 401, 'unauthorized');
        expect(r.text()).not.toContain(ADMIN_TOKEN);
        expect(r.text()).not.toContain(key);
      }
    }
  });
});

describe('audit docs/admin.md: tenants, keys and models as documented', () => {
  it('POST /admin/tenants echoes every field, allowed_models null = all, and a model list restricts', async () => {
    const body = {
      name: unique('t'),
      budget_usd: '12.5',
      budget_period: 'week',
      rate_limit_rpm: 10,
      max_concurrent: 3,
      cache_scope: 'shared',
      cache_ttl_days: 7,
      allowed_models: null,
      disabled: false,
    };
    const r = await call('POST', '/admin/tenants', { admin: true, json: body });
    expect(r.status, r.text()).toBe(201);
    expect(r.json()).toMatchObject(body);
    expect(r.json().id).toEqual(expect.any(String));
    const read = await call('GET', `/admin/tenants/${r.json().id}`, { admin: true });
    expect(read.json()).toMatchObject(body);
    const list = await call('GET', '/admin/tenants', { admin: true });
    expect(JSON.stringify(list.json())).toContain(r.json().id);
  });

  it('DELETE /admin/keys/{id} is a 204 with no body', async () => {
    const { keyId } = await createTenantWithKey();
    const r = await call('DELETE', `/admin/keys/${keyId}`, { admin: true });
    expect(r.status).toBe(204);
    expect(r.bytes.length).toBe(0);
    expectError(await call('DELETE', '/admin/keys/key_nope', { admin: true }), 404, 'not_found');
  });

  it('a key created with a past expires_at is created, reads back, and is refused', async () => {
    const t = await call('POST', '/admin/tenants', { admin: true, json: { name: unique('t') } });
    const k = await call('POST', `/admin/tenants/${t.json().id}/keys`, { admin: true, json: { name: 'old', expires_at: '2001-02-03T04:05:06Z' } });
    expect(k.status, k.text()).toBe(201);
    expect(k.json()).toMatchObject({ tenant_id: t.json().id, expires_at: '2001-02-03T04:05:06.000Z' });
    expect(k.json().key).toMatch(/^igk_[0-9A-Za-z]{32,}$/);
    expect(k.json().key.startsWith(k.json().prefix)).toBe(true);
    expectError(await call('GET', '/v1/usage', { key: k.json().key }), 401, 'unauthorized');
  });

  it('PUT /admin/models with a raw slash takes and answers exactly the documented body; GET by %2F reads it back', async () => {
    const model = `${unique('vendor')}/m-1.0`;
    // every field unlike the seed's, and a fractional cfg range, so an echo of defaults would show
    const body = { model, ...customPriceRow({ cfg: { min: 0.5, max: 12.5 } }) };
    const put = await call('PUT', `/admin/models/${model}`, { admin: true, json: body });
    expect([200, 201]).toContain(put.status);
    expect(put.json()).toEqual(body);
    const get = await call('GET', `/admin/models/${encodeURIComponent(model)}`, { admin: true });
    expect(get.json()).toEqual(body);
    const list = await call('GET', '/admin/models', { admin: true });
    expect(list.json().data).toContainEqual(body);
    // the body's shape is strict: a missing or extra field is a 400 naming it
    const { cfg: _cfg, ...noCfg } = body;
    expectError(await call('PUT', `/admin/models/${model}`, { admin: true, json: noCfg }), 400, 'invalid_request', { param: 'cfg' });
  });

  it('GET /admin/usage?format=csv always starts with the documented header row', async () => {
    const r = await call('GET', `/admin/usage?format=csv&tenant_id=${unique('nobody')}`, { admin: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.text().split(/\r?\n/)[0]).toBe('group,requests,cache_hits,failed,cost_usd,coalesced,saved_usd');
    const json = await call('GET', `/admin/usage?tenant_id=${unique('nobody')}`, { admin: true });
    expect(json.json()).toEqual({ rows: [], total: { requests: 0, cache_hits: 0, failed: 0, cost_usd: '0', coalesced: 0, saved_usd: '0' } });
  });
});
