import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, call, genBody, loopback, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { createTenantWithKey } from '../helpers/tenants';

const KEY_FORMAT = /^igk_[0-9A-Za-z]{32,}$/;

async function createTenant(body: Record<string, unknown>) {
  const r = await call('POST', '/admin/tenants', { admin: true, json: body });
  expect(r.status, r.text()).toBe(201);
  return r.json();
}

async function createKey(tenantId: string, body: Record<string, unknown> = {}) {
  const r = await call('POST', `/admin/tenants/${tenantId}/keys`, { admin: true, json: { name: unique('key'), ...body } });
  expect(r.status, r.text()).toBe(201);
  return r.json();
}

/** 200 when the key is let through to a generation, else the refusal's status. */
async function keyStatus(key: string): Promise<number> {
  const { env: e } = loopback('admin');
  return (await call('POST', '/image/generation', { key, json: genBody(unique('admin'), { seed: 9 }), env: e })).status;
}

describe('tenants', () => {
  it('create returns 201 with an id and every field of docs/admin.md; read and list return the same', async () => {
    const name = unique('team');
    const body = {
      name,
      budget_usd: '25.10',
      budget_period: 'week',
      rate_limit_rpm: 120,
      max_concurrent: 4,
      cache_scope: 'shared',
      cache_ttl_days: 7,
      allowed_models: ['stabilityai/stable-diffusion-3.5-large', 'other/model'],
      disabled: false,
    };
    const created = await createTenant(body);
    expect(created.id).toMatch(/^\S+$/);
    const expected = { ...body, id: created.id, budget_usd: '25.1' }; // the same amount, written shortest
    expect(created).toMatchObject(expected);

    const read = await call('GET', `/admin/tenants/${created.id}`, { admin: true });
    expect(read.status).toBe(200);
    expect(read.json()).toMatchObject(expected);
    expect(read.json().keys).toEqual([]);

    const list = await call('GET', '/admin/tenants', { admin: true });
    expect(list.status).toBe(200);
    const listed = (list.json().data as { id: string }[]).find((x) => x.id === created.id);
    expect(listed).toMatchObject(expected);
  });

  it('defaults: no budget, no limits, private cache, every model, enabled', async () => {
    const created = await createTenant({ name: unique('plain') });
    expect(created).toMatchObject({ budget_usd: null, rate_limit_rpm: null, max_concurrent: null, cache_scope: 'private', allowed_models: null, disabled: false });
    expect(['none', 'day', 'week', 'month']).toContain(created.budget_period);
    expect(created.cache_ttl_days).toBeGreaterThan(0);
  });

  it('budget_usd is an exact decimal string, never a float', async () => {
    for (const [given, shown] of <[string, string][]>[
      ['0', '0'],
      ['0.000000001', '0.000000001'],
      ['1', '1'],
      ['1.5', '1.5'],
      ['0.001992295', '0.001992295'],
      ['9007199.254740991', '9007199.254740991'], // the largest amount D1 keeps exactly
    ]) {
      const t = await createTenant({ name: unique('usd'), budget_usd: given });
      expect(t.budget_usd, given).toBe(shown);
      const db = await env.DB.prepare('SELECT budget_nano FROM tenants WHERE id = ?').bind(t.id).first<{ budget_nano: number }>();
      expect(BigInt(db?.budget_nano ?? -1)).toBe(BigInt(shown.split('.')[0] ?? '0') * 1_000_000_000n + BigInt((shown.split('.')[1] ?? '').padEnd(9, '0')));
    }
  });

  it('PATCH changes each field and leaves the others; null clears budget, limits and allowed_models', async () => {
    const t = await createTenant({ name: unique('patch'), budget_usd: '10', budget_period: 'month', rate_limit_rpm: 60, allowed_models: ['a/b'] });
    const changes: Record<string, unknown>[] = [
      { name: unique('renamed') },
      { budget_usd: '0.5' },
      { budget_period: 'day' },
      { rate_limit_rpm: 5 },
      { max_concurrent: 2 },
      { cache_scope: 'shared' },
      { cache_ttl_days: 90 },
      { allowed_models: ['x/y'] },
      { disabled: true },
      { disabled: false },
      { budget_usd: null, rate_limit_rpm: null, max_concurrent: null, allowed_models: null },
    ];
    let state = t;
    for (const change of changes) {
      const r = await call('PATCH', `/admin/tenants/${t.id}`, { admin: true, json: change });
      expect(r.status, r.text()).toBe(200);
      // usage follows the budget (remaining_usd), so it is compared by the usage tests, not here
      const { updated_at: _u, usage: _s, ...rest } = state;
      expect(r.json()).toMatchObject({ ...rest, ...change });
      state = r.json();
      const read = await call('GET', `/admin/tenants/${t.id}`, { admin: true });
      expect(read.json()).toMatchObject(state);
    }
    expect(state).toMatchObject({ budget_usd: null, rate_limit_rpm: null, max_concurrent: null, allowed_models: null });
  });

  it('400 naming the field for a bad tenant body', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 5 }, 'name'],
      [{ name: 'x', budget_usd: 25 }, 'budget_usd'],
      [{ name: 'x', budget_usd: '-1' }, 'budget_usd'],
      [{ name: 'x', budget_usd: '1.0000000001' }, 'budget_usd'],
      [{ name: 'x', budget_usd: '1e3' }, 'budget_usd'],
      [{ name: 'x', budget_usd: '' }, 'budget_usd'],
      [{ name: 'x', budget_usd: '9007199.254740992' }, 'budget_usd'],
      [{ name: 'x', budget_usd: '999999999999.999999999' }, 'budget_usd'],
      [{ name: 'x', budget_period: 'year' }, 'budget_period'],
      [{ name: 'x', rate_limit_rpm: 0 }, 'rate_limit_rpm'],
      [{ name: 'x', rate_limit_rpm: 1.5 }, 'rate_limit_rpm'],
      [{ name: 'x', max_concurrent: -1 }, 'max_concurrent'],
      [{ name: 'x', cache_scope: 'public' }, 'cache_scope'],
      [{ name: 'x', cache_ttl_days: 0 }, 'cache_ttl_days'],
      [{ name: 'x', allowed_models: 'a/b' }, 'allowed_models'],
      [{ name: 'x', disabled: 'yes' }, 'disabled'],
      [{ name: 'x', budget: '1' }, 'budget'],
    ];
    for (const [body, param] of cases) {
      expectError(await call('POST', '/admin/tenants', { admin: true, json: body }), 400, 'invalid_request', { param: param });
    }
    const t = await createTenant({ name: unique('bad-patch') });
    expectError(await call('PATCH', `/admin/tenants/${t.id}`, { admin: true, json: { budget_usd: 3 } }), 400, 'invalid_request', { param: 'budget_usd' });
    expectError(await call('PATCH', `/admin/tenants/${t.id}`, { admin: true, json: { id: 'ten_other' } }), 400, 'invalid_request', { param: 'id' });
    expectError(await call('POST', '/admin/tenants', { admin: true, body: 'name=x', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    expectError(await call('POST', '/admin/tenants', { admin: true, body: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'invalid_request');
  });
});

describe('keys', () => {
  it('create: 201 with id, tenant_id, key (igk_ + ≥32 base62), prefix; the limits round-trip', async () => {
    const t = await createTenant({ name: unique('keys') });
    const body = { name: 'ci-bot', budget_usd: '3.25', budget_period: 'day', rate_limit_rpm: 30, max_concurrent: 2, expires_at: '2031-01-02T03:04:05Z' };
    const k = await createKey(t.id, body);
    expect(k.key).toMatch(KEY_FORMAT);
    expect(k.tenant_id).toBe(t.id);
    expect(typeof k.prefix).toBe('string');
    expect(k.prefix.length).toBeGreaterThanOrEqual(6);
    expect(k.prefix.length).toBeLessThan(k.key.length - 24);
    expect(k.key.startsWith(k.prefix)).toBe(true);
    expect(k).toMatchObject({ ...body, budget_usd: '3.25', expires_at: '2031-01-02T03:04:05.000Z', disabled: false });

    const read = await call('GET', `/admin/keys/${k.id}`, { admin: true });
    expect(read.status).toBe(200);
    const { key: _plain, ...shown } = k;
    expect(read.json()).toMatchObject(shown);
    expect(read.json()).not.toHaveProperty('key');
    expect(read.text()).not.toContain(k.key);
    expect(JSON.stringify(read.json())).not.toMatch(/hash/);

    const tenant = await call('GET', `/admin/tenants/${t.id}`, { admin: true });
    expect(tenant.json().keys.map((x: { id: string }) => x.id)).toEqual([k.id]);
    expect(tenant.text()).not.toContain(k.key);

    // two keys never share their random part
    const other = await createKey(t.id);
    expect(other.key).not.toBe(k.key);
    expect(other.key.slice(4, 36)).not.toBe(k.key.slice(4, 36));
  });

  it('PATCH changes disabled, expires_at, name, budgets and limits', async () => {
    const t = await createTenant({ name: unique('kpatch') });
    const k = await createKey(t.id);
    let state = k;
    for (const change of [
      { name: 'renamed' },
      { disabled: true },
      { disabled: false },
      { expires_at: '2030-05-06T07:08:09.123Z' },
      { expires_at: '2028-02-29T23:59:59.000Z' },
      { expires_at: null },
      { budget_usd: '0.01', budget_period: 'month' },
      { rate_limit_rpm: 10, max_concurrent: 1 },
      { budget_usd: null, rate_limit_rpm: null, max_concurrent: null },
    ]) {
      const r = await call('PATCH', `/admin/keys/${k.id}`, { admin: true, json: change });
      expect(r.status, r.text()).toBe(200);
      const { key: _k, updated_at: _u, usage: _s, ...rest } = state;
      expect(r.json()).toMatchObject({ ...rest, ...change });
      state = r.json();
      expect((await call('GET', `/admin/keys/${k.id}`, { admin: true })).json()).toMatchObject(state);
    }
    expect(await keyStatus(k.key)).toBe(200);
    for (const [body, param] of [
      [{ expires_at: 'tomorrow' }, 'expires_at'],
      [{ expires_at: 1767225600 }, 'expires_at'],
      // times that Date.parse would roll over instead of refusing
      [{ expires_at: '2026-02-30T00:00:00Z' }, 'expires_at'],
      [{ expires_at: '2026-04-31T12:00:00Z' }, 'expires_at'],
      [{ expires_at: '2026-01-01T24:00:00Z' }, 'expires_at'],
      [{ expires_at: '2026-13-01T00:00:00Z' }, 'expires_at'],
      [{ disabled: 1 }, 'disabled'],
      [{ budget_usd: 1 }, 'budget_usd'],
      [{ tenant_id: t.id }, 'tenant_id'],
      [{ key: 'igk_x' }, 'key'],
    ] as const) {
      expectError(await call('PATCH', `/admin/keys/${k.id}`, { admin: true, json: body }), 400, 'invalid_request', { param: param });
    }
    expectError(await call('POST', `/admin/tenants/${t.id}/keys`, { admin: true, json: { name: 'x', disabled: 'no' } }), 400, 'invalid_request', { param: 'disabled' });
    expectError(await call('POST', `/admin/tenants/${t.id}/keys`, { admin: true, json: {} }), 400, 'invalid_request', { param: 'name' });
  });

  it('revoke: 204, then the key gets 401; revoking again is harmless; the read shows it revoked', async () => {
    const { keyId, key } = await createTenantWithKey();
    expect(await keyStatus(key)).toBe(200);
    const r = await call('DELETE', `/admin/keys/${keyId}`, { admin: true });
    expect(r.status).toBe(204);
    expect(r.bytes).toHaveLength(0);
    expect(await keyStatus(key)).toBe(401);
    expect((await call('DELETE', `/admin/keys/${keyId}`, { admin: true })).status).toBe(204);
    expect((await call('GET', `/admin/keys/${keyId}`, { admin: true })).json()).toMatchObject({ revoked: true });
    // re-enabling a revoked key does not bring it back
    expect((await call('PATCH', `/admin/keys/${keyId}`, { admin: true, json: { disabled: false } })).status).toBe(200);
    expect(await keyStatus(key)).toBe(401);
    // nor does rotating it
    expectError(await call('POST', `/admin/keys/${keyId}/rotate`, { admin: true }), 404, 'not_found');
    expect(await keyStatus(key)).toBe(401);
  });

  it('rotate: a new plaintext that works; the old one gets 401; id, tenant and limits stay', async () => {
    const { keyId, key, tenantId } = await createTenantWithKey({ key: { rate_limit_rpm: 50 } });
    expect(await keyStatus(key)).toBe(200);
    const r = await call('POST', `/admin/keys/${keyId}/rotate`, { admin: true });
    expect(r.status, r.text()).toBe(200);
    const rotated = r.json();
    expect(rotated.key).toMatch(KEY_FORMAT);
    expect(rotated.key).not.toBe(key);
    expect(rotated).toMatchObject({ id: keyId, tenant_id: tenantId, rate_limit_rpm: 50 });
    expect(rotated.key.startsWith(rotated.prefix)).toBe(true);
    expect(await keyStatus(key)).toBe(401);
    expect(await keyStatus(rotated.key)).toBe(200);
    // rotating again retires the second one too
    const again = (await call('POST', `/admin/keys/${keyId}/rotate`, { admin: true })).json();
    expect(await keyStatus(rotated.key)).toBe(401);
    expect(await keyStatus(again.key)).toBe(200);
  });

  it('no plaintext key anywhere in D1, nor in a log line', async () => {
    const logged: string[] = [];
    const capture = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
    vi.spyOn(console, 'log').mockImplementation(capture);
    vi.spyOn(console, 'error').mockImplementation(capture);
    vi.spyOn(console, 'warn').mockImplementation(capture);
    const t = await createTenant({ name: unique('plaintext') });
    const k = await createKey(t.id);
    expect(await keyStatus(k.key)).toBe(200);
    await call('GET', `/v1/images/img_nothing0000000000`, { headers: { 'x-api-key': k.key } });
    const rotated = (await call('POST', `/admin/keys/${k.id}/rotate`, { admin: true })).json();
    expect(await keyStatus(rotated.key)).toBe(200);
    const secrets = [k.key, k.key.slice(4), rotated.key, rotated.key.slice(4)];

    // the stored hash is SHA-256 of the current plaintext
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(rotated.key)));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
    expect((await env.DB.prepare('SELECT key_hash FROM api_keys WHERE id = ?').bind(k.id).first<{ key_hash: string }>())?.key_hash).toBe(hex);

    const tables = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all<{ name: string }>();
    expect(tables.results.map((x) => x.name)).toEqual(expect.arrayContaining(['tenants', 'api_keys']));
    let cells = 0;
    for (const { name } of tables.results) {
      const rows = await env.DB.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all<Record<string, unknown>>();
      for (const row of rows.results) {
        for (const [column, value] of Object.entries(row)) {
          const text = value instanceof ArrayBuffer ? new TextDecoder().decode(value) : String(value);
          cells++;
          for (const secret of secrets) expect(text.includes(secret), `${name}.${column}`).toBe(false);
        }
      }
    }
    expect(cells).toBeGreaterThan(0);
    for (const line of logged) {
      for (const secret of [...secrets, ADMIN_TOKEN]) expect(line.includes(secret), line).toBe(false);
    }
    expect(logged.length).toBeGreaterThan(0);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
});

describe('not found', () => {
  it('404 not_found for unknown tenant and key ids', async () => {
    for (const [method, path, json] of [
      ['GET', '/admin/tenants/ten_nope', undefined],
      ['PATCH', '/admin/tenants/ten_nope', { name: 'x' }],
      ['POST', '/admin/tenants/ten_nope/keys', { name: 'x' }],
      ['GET', '/admin/keys/key_nope', undefined],
      ['PATCH', '/admin/keys/key_nope', { disabled: true }],
      ['DELETE', '/admin/keys/key_nope', undefined],
      ['POST', '/admin/keys/key_nope/rotate', undefined],
      ['GET', `/admin/tenants/${encodeURIComponent("' OR 1=1 --")}`, undefined],
    ] as const) {
      expectError(await call(method, path, { admin: true, json }), 404, 'not_found');
    }
  });

  it('unknown routes answer 404 not_found in the envelope, with or without a key', async () => {
    const { key } = await createTenantWithKey();
    for (const [method, path] of [
      ['GET', '/nope'],
      ['POST', '/v1/nothing'],
      ['GET', '/image/generation/extra'],
      ['PUT', '/healthz/x'],
      ['DELETE', '/v1/images'],
    ] as const) {
      expectError(await call(method, path), 404, 'not_found');
      expectError(await call(method, path, { key }), 404, 'not_found');
    }
    expectError(await call('GET', '/admin/no-such-thing', { admin: true }), 404, 'not_found');
  });
});
