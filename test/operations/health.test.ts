import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { requestLifetimes } from '../../src/domain/lifetimes';
import { AdminHealthAnswer } from '../../src/routes/admin-health';
import { UnhealthyAnswer } from '../../src/routes/health';
import { DEFAULT_ORIGIN_DEADLINE_MS } from '../../src/origins/config';
import { reserve } from '../../src/storage/reservations';
import { getKey, getTenant } from '../../src/storage/tenants';
import { appWithClock, call, DEFAULT_MODEL, envWith, genBody, loopback, testOrigin, unique, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged, IMAGE_NANO, ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** Configuration in the open (docs/operations.md): /healthz, /admin/health, and generations under a broken configuration. */

const SECRET = 'sk-live-do-not-show-1234';
const broken: [string, Record<string, unknown>, RegExp][] = [
  ['ORIGINS not JSON', { ORIGINS: `[{"name": "q", ${SECRET}` }, /^ORIGINS is not valid JSON$/],
  ['an unknown kind', { ORIGINS: JSON.stringify([{ name: 'q', kind: 'comfy', url: 'https://q.example' }]) }, /^ORIGINS\[0\]\.kind: /],
  ['a bad URL', { ORIGINS: JSON.stringify([{ name: 'q', kind: 'qubrid', url: SECRET }]) }, /^ORIGINS\[0\]\.url: /],
  [
    'an api_key_secret naming an unset variable',
    { ORIGINS: JSON.stringify([{ name: 'q', kind: 'qubrid', url: 'https://q.example', api_key_secret: 'IMAGEGATE_TEST_UNSET' }]) },
    /^ORIGINS\[0\]\.api_key_secret: IMAGEGATE_TEST_UNSET is not set \(origin 'q'\)$/,
  ],
];

describe('GET /healthz', () => {
  it('is 200 { ok: true } when the configuration can serve', async () => {
    const r = await call('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ ok: true });
  });

  it.each(broken)('%s: 503 { ok: false, problems } naming the field, never a value', async (_label, vars, problem) => {
    const r = await call('GET', '/healthz', { env: { ...env, ...vars } as TestEnv });
    expect(r.status).toBe(503);
    const body = r.json();
    expect(Object.keys(body).sort()).toEqual(['ok', 'problems']);
    expect(body.ok).toBe(false);
    expect(body.problems[0]).toMatch(problem);
    expect(UnhealthyAnswer.safeParse(body).success).toBe(true);
    expect(r.text()).not.toContain(SECRET);
  });

  it('an api_key_secret whose variable is set (and not empty) is fine', async () => {
    const origins = JSON.stringify([{ name: 'q', kind: 'qubrid', url: 'https://q.example', api_key_secret: 'IMAGEGATE_TEST_SET' }]);
    expect((await call('GET', '/healthz', { env: { ...env, ORIGINS: origins, IMAGEGATE_TEST_SET: 'x' } as TestEnv })).status).toBe(200);
    expect((await call('GET', '/healthz', { env: { ...env, ORIGINS: origins, IMAGEGATE_TEST_SET: '' } as TestEnv })).status).toBe(503);
  });
});

describe('a generation under a broken configuration', () => {
  it.each(broken)('%s: 502 origin_error saying the origin configuration is invalid; nothing charged', async (_label, vars) => {
    const t = await createTenantWithKey();
    for (const [path, json] of [
      ['/image/generation', genBody(unique('broken'), { seed: 7 })],
      ['/v1/images/generations', { prompt: `broken ${unique('p')}`, size: '256x256' }],
    ] as const) {
      const r = await call('POST', path, { key: t.key, json, env: { ...env, ...vars } as TestEnv });
      expect(expectError(r, 502, 'origin_error')).toContain("the gateway's origin configuration is invalid");
      expect(r.text()).not.toContain(SECRET);
    }
    await expectNothingCharged(t);
    // refused before any reservation: no ledger row either
    expect(await ledger('key_id', t.keyId)).toHaveLength(0);
  });
});

describe('GET /admin/health', () => {
  it('needs the admin token', async () => {
    expectError(await call('GET', '/admin/health'), 401, 'unauthorized');
    const t = await createTenantWithKey();
    expectError(await call('GET', '/admin/health', { key: t.key }), 401, 'unauthorized');
  });

  it('lists the origins with closed breakers, no open reservation, a ledger that matches, no problem', async () => {
    const e = envWith([testOrigin('health-a', 'png'), testOrigin('health-b', 'png', { kind: 'openai', models: [DEFAULT_MODEL] })]);
    const r = await call('GET', '/admin/health', { admin: true, env: e });
    expect(r.status, r.text()).toBe(200);
    const body = r.json();
    expect(Object.keys(body).sort()).toEqual(['ledger_matches_spent', 'origins', 'problems', 'reservations']);
    expect(body.origins).toEqual([
      { name: 'health-a-png', kind: 'qubrid', models: ['*'], breaker: 'closed' },
      { name: 'health-b-png', kind: 'openai', models: [DEFAULT_MODEL], breaker: 'closed' },
    ]);
    expect(body.problems).toEqual([]);
    expect(typeof body.ledger_matches_spent).toBe('boolean');
    // the declared answer (strict): a field added to the answer and not to the document fails here
    expect(AdminHealthAnswer.safeParse(body).error).toBeUndefined();
  });

  it('shows the breaker open after failures, and half_open once the cool-down has passed (this isolate)', async () => {
    const t = await createTenantWithKey();
    const { env: e } = loopback('health-breaker', '500', { breaker_failures: 1, breaker_cooldown_ms: 60_000 });
    const now = Date.now();
    const app = appWithClock(() => now);
    expectError(await call('POST', '/image/generation', { app, key: t.key, env: e, json: genBody(unique('b'), { seed: 9 }) }), 502, 'origin_error');
    const open = (await call('GET', '/admin/health', { app, admin: true, env: e })).json();
    expect(open.origins.map((o: { breaker: string }) => o.breaker)).toEqual(['open']);
    const later = (await call('GET', '/admin/health', { app: appWithClock(() => now + 61_000), admin: true, env: e })).json();
    expect(later.origins.map((o: { breaker: string }) => o.breaker)).toEqual(['half_open']);
  });

  it('reports a broken configuration as problems, with no origins', async () => {
    const [, vars] = broken[3] ?? [];
    const body = (await call('GET', '/admin/health', { admin: true, env: { ...env, ...vars } as TestEnv })).json();
    expect(body.problems).toHaveLength(1);
    expect(body.problems[0]).toContain('IMAGEGATE_TEST_UNSET');
    const notJson = (await call('GET', '/admin/health', { admin: true, env: { ...env, ORIGINS: '{' } as TestEnv })).json();
    expect(notJson.origins).toEqual([]);
    expect(notJson.problems).toEqual(['ORIGINS is not valid JSON']);
  });

  it('counts open reservations and the age of the oldest, on a fixed clock', async () => {
    const t = await createTenantWithKey();
    const key = await getKey(env.DB, t.keyId);
    const tenant = await getTenant(env.DB, t.tenantId);
    if (!key || !tenant) throw new Error('missing key or tenant');
    const before = (await call('GET', '/admin/health', { admin: true })).json().reservations.open as number;
    const made = Date.now() - 5_000;
    const request = { model: DEFAULT_MODEL, width: 1024, height: 1024, steps: 30 };
    const lifetime = requestLifetimes(DEFAULT_ORIGIN_DEADLINE_MS).reservationMs;
    const items = [1, 2].map((i) => ({ generationId: `req_health${made}.${i}`, costNano: IMAGE_NANO, request }));
    expect(await reserve(env.DB, { key, tenant }, items, made, lifetime)).toEqual({ ok: true });
    const app = appWithClock(() => made + 42_000);
    const body = (await call('GET', '/admin/health', { app, admin: true })).json();
    expect(body.reservations.open).toBe(before + 2);
    expect(body.reservations.oldest_age_s).toBeGreaterThanOrEqual(42);
  });

  it('ledger_matches_spent is true after real generations, and false when a spent counter disagrees with the ledger', async () => {
    const t = await createTenantWithKey();
    const { env: e } = loopback('health-ledger');
    for (const seed of [11, 12]) {
      const r = await call('POST', '/image/generation', { key: t.key, env: e, json: genBody(unique('l'), { seed }) });
      expect(r.status, r.text()).toBe(200);
    }
    expect((await call('GET', '/admin/health', { admin: true })).json().ledger_matches_spent).toBe(true);
    for (const table of ['api_keys', 'tenants'] as const) {
      const id = table === 'api_keys' ? t.keyId : t.tenantId;
      await env.DB.prepare(`UPDATE ${table} SET spent_nano = spent_nano + 1 WHERE id = ?`).bind(id).run();
      try {
        expect((await call('GET', '/admin/health', { admin: true })).json().ledger_matches_spent, table).toBe(false);
      } finally {
        await env.DB.prepare(`UPDATE ${table} SET spent_nano = spent_nano - 1 WHERE id = ?`).bind(id).run();
      }
    }
    expect((await call('GET', '/admin/health', { admin: true })).json().ledger_matches_spent).toBe(true);
  });
});
