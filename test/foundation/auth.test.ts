import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, appWithClock, call, genBody, isPng, loopback, originCalls, unique, type TestEnv } from '../helpers/api';
import { ADMIN_ROUTE_SAMPLES } from '../helpers/admin-routes';
import { expectError } from '../helpers/errors';
import { expectNoCharge } from '../helpers/money';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';

/** A generation with `headers` instead of the helper's Bearer key; refusals must not reach the origin. */
async function generateWith(headers: Record<string, string>, options: { app?: ReturnType<typeof appWithClock> } = {}) {
  const { scenario, env: e } = loopback('auth');
  const r = await call('POST', '/image/generation', { json: genBody(unique('auth'), { seed: 5 }), headers, env: e, ...options });
  return { r, calls: await originCalls(scenario) };
}

async function expectAuthRefusal(t: TenantKey | null, headers: Record<string, string>, status: 401 | 403, code: 'unauthorized' | 'forbidden', app?: ReturnType<typeof appWithClock>) {
  const refuse = () => generateWith(headers, app ? { app } : {});
  const { r, calls } = t ? await expectNoCharge(t, refuse) : await refuse();
  expectError(r, status, code);
  expect(calls).toHaveLength(0);
  return r;
}

async function expectAuthOk(headers: Record<string, string>, app?: ReturnType<typeof appWithClock>) {
  const { r, calls } = await generateWith(headers, app ? { app } : {});
  expect(r.status, r.text()).toBe(200);
  expect(isPng(r.bytes)).toBe(true);
  expect(calls).toHaveLength(1);
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('tenant auth', () => {
  it('accepts Authorization: Bearer and x-api-key', async () => {
    const t = await createTenantWithKey();
    await expectAuthOk(bearer(t.key));
    await expectAuthOk({ 'x-api-key': t.key });
    await expectAuthOk({ authorization: `bearer ${t.key}` }); // the scheme is case-insensitive (RFC 9110 §11.1)
  });

  it('401 for a missing key', async () => {
    const r = await expectAuthRefusal(null, {}, 401, 'unauthorized');
    expect(r.json().error.param).toBeNull();
    await expectAuthRefusal(null, { authorization: '' }, 401, 'unauthorized');
    await expectAuthRefusal(null, { 'x-api-key': '' }, 401, 'unauthorized');
  });

  it('401 for malformed keys', async () => {
    const t = await createTenantWithKey();
    for (const headers of <Record<string, string>[]>[
      { authorization: 'Bearer' },
      { authorization: 'Bearer not-a-key' },
      { authorization: `Basic ${btoa(`user:${t.key}`)}` },
      { authorization: t.key }, // no scheme
      { authorization: `Bearer ${t.key} extra` },
      { authorization: `Bearer ${t.key.slice(0, 20)}` }, // too short
      { authorization: `Bearer ${t.key.replace('igk_', 'sk_')}` },
      { authorization: `Bearer ${t.key}!` },
      { 'x-api-key': 'igk_' },
      { 'x-api-key': `${t.key}-x` },
    ]) {
      await expectAuthRefusal(t, headers, 401, 'unauthorized');
    }
  });

  it('401 for an unknown key of the right shape', async () => {
    const t = await createTenantWithKey();
    const last = t.key.at(-1) === 'A' ? 'B' : 'A';
    await expectAuthRefusal(t, bearer(t.key.slice(0, -1) + last), 401, 'unauthorized');
    await expectAuthRefusal(null, bearer(`igk_${'x'.repeat(40)}`), 401, 'unauthorized');
  });

  it('401 for a revoked key (DELETE /admin/keys/{id}); the tenant\'s other keys still work', async () => {
    const t = await createTenantWithKey();
    const other = await call('POST', `/admin/tenants/${t.tenantId}/keys`, { admin: true, json: { name: 'other' } });
    await expectAuthOk(bearer(t.key));
    const del = await call('DELETE', `/admin/keys/${t.keyId}`, { admin: true });
    expect(del.status).toBe(204);
    expect(del.bytes).toHaveLength(0);
    const r = await expectAuthRefusal(t, bearer(t.key), 401, 'unauthorized');
    expect(r.json().error.message).toMatch(/revoked/);
    await expectAuthRefusal(t, { 'x-api-key': t.key }, 401, 'unauthorized');
    await expectAuthOk(bearer(other.json().key));
  });

  it('401 for a key created with expires_at in the past', async () => {
    const t = await createTenantWithKey({ key: { expires_at: '2020-01-01T00:00:00Z' } });
    const r = await expectAuthRefusal(t, bearer(t.key), 401, 'unauthorized');
    expect(r.json().error.message).toMatch(/expired/);
  });

  it('a key stops working the moment the (injected) clock passes expires_at', async () => {
    const expiresAt = Date.parse('2031-06-01T12:00:00.000Z');
    const t = await createTenantWithKey({ key: { expires_at: '2031-06-01T12:00:00Z' } });
    await expectAuthOk(bearer(t.key), appWithClock(() => expiresAt - 60_000));
    await expectAuthOk(bearer(t.key), appWithClock(() => expiresAt - 1));
    await expectAuthRefusal(t, bearer(t.key), 401, 'unauthorized', appWithClock(() => expiresAt));
    await expectAuthRefusal(t, bearer(t.key), 401, 'unauthorized', appWithClock(() => expiresAt + 3_600_000));
    // clearing expires_at brings it back
    const patch = await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { expires_at: null } });
    expect(patch.status, patch.text()).toBe(200);
    expect(patch.json().expires_at).toBeNull();
    await expectAuthOk(bearer(t.key), appWithClock(() => expiresAt + 3_600_000));
  });

  it('PATCH expires_at into the past expires a live key', async () => {
    const t = await createTenantWithKey();
    await expectAuthOk(bearer(t.key));
    const patch = await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { expires_at: new Date(Date.now() - 1000).toISOString() } });
    expect(patch.status, patch.text()).toBe(200);
    await expectAuthRefusal(t, bearer(t.key), 401, 'unauthorized');
  });

  it('403 for a disabled key, and again 200 once re-enabled', async () => {
    const t = await createTenantWithKey();
    expect((await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { disabled: true } })).status).toBe(200);
    const r = await expectAuthRefusal(t, bearer(t.key), 403, 'forbidden');
    expect(r.json().error.message).toMatch(/disabled/);
    expect((await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { disabled: false } })).status).toBe(200);
    await expectAuthOk(bearer(t.key));
  });

  it('403 for every key of a disabled tenant', async () => {
    const t = await createTenantWithKey();
    const second = await call('POST', `/admin/tenants/${t.tenantId}/keys`, { admin: true, json: { name: 'second' } });
    expect((await call('PATCH', `/admin/tenants/${t.tenantId}`, { admin: true, json: { disabled: true } })).status).toBe(200);
    await expectAuthRefusal(t, bearer(t.key), 403, 'forbidden');
    await expectAuthRefusal(t, { 'x-api-key': second.json().key }, 403, 'forbidden');
    // a tenant created disabled, too
    const born = await createTenantWithKey({ tenant: { disabled: true } });
    await expectAuthRefusal(born, bearer(born.key), 403, 'forbidden');
  });

  it('403 naming model when the model is not in allowed_models', async () => {
    const t = await createTenantWithKey({ tenant: { allowed_models: ['some/other-model'] } });
    const r = await expectAuthRefusal(t, bearer(t.key), 403, 'forbidden');
    expect(r.json().error.param).toBe('model');
    const empty = await createTenantWithKey({ tenant: { allowed_models: [] } });
    await expectAuthRefusal(empty, bearer(empty.key), 403, 'forbidden');
    const allowed = await createTenantWithKey({ tenant: { allowed_models: ['stabilityai/stable-diffusion-3.5-large'] } });
    await expectAuthOk(bearer(allowed.key));
  });

  it('a key authenticates only its own tenant\'s images', async () => {
    const t = await createTenantWithKey();
    const r = await call('GET', '/v1/images/img_doesnotexist000000', { key: t.key });
    expectError(r, 404, 'not_found');
    expectError(await call('GET', '/v1/images/img_doesnotexist000000'), 401, 'unauthorized');
  });
});

describe('admin auth', () => {
  // every admin route, and a path under /admin/ that is no route: auth answers before the router does
  const routes: typeof ADMIN_ROUTE_SAMPLES = [...ADMIN_ROUTE_SAMPLES, ['GET', '/admin/no-such-route']];

  it('401 without the admin token, with a wrong one, and with a tenant key', async () => {
    const t = await createTenantWithKey();
    for (const [method, path, json] of routes) {
      expectError(await call(method, path, { json }), 401, 'unauthorized');
      for (const authorization of ['Bearer wrong-token', 'Bearer test-admin-token-', 'Bearer test-admin-toke', 'test-admin-token', 'Basic dGVzdC1hZG1pbi10b2tlbg==', `Bearer ${t.key}`]) {
        expectError(await call(method, path, { json, headers: { authorization } }), 401, 'unauthorized');
      }
      expectError(await call(method, path, { json, headers: { 'x-api-key': 'test-admin-token' } }), 401, 'unauthorized');
    }
  });

  it('503 admin_disabled on every admin route when ADMIN_TOKEN is unset or empty, whatever is sent', async () => {
    const unset = { ...env, ADMIN_TOKEN: undefined } as TestEnv;
    const empty = { ...env, ADMIN_TOKEN: '' } as TestEnv;
    const before = (await env.DB.prepare('SELECT COUNT(*) AS n FROM tenants').first<{ n: number }>())?.n;
    for (const e of [unset, empty]) {
      for (const [method, path, json] of routes) {
        expectError(await call(method, path, { json, env: e }), 503, 'admin_disabled');
        expectError(await call(method, path, { json, env: e, admin: true }), 503, 'admin_disabled');
        expectError(await call(method, path, { json, env: e, headers: { authorization: 'Bearer ' } }), 503, 'admin_disabled');
      }
    }
    // nothing was created while the admin API was off (other tests may create tenants meanwhile, so compare by name)
    expect(before).toBeTypeOf('number');
    const made = await env.DB.prepare("SELECT COUNT(*) AS n FROM tenants WHERE name = 'x'").first<{ n: number }>();
    expect(made?.n).toBe(0);
  });

  it('the right token opens the admin API', async () => {
    const r = await call('GET', '/admin/tenants', { admin: true });
    expect(r.status).toBe(200);
  });
});
