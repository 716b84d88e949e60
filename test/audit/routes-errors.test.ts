import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors';
import { appWithClock, call, genBody, loopback, originCalls, unique, type CallResult, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState, expectNothingCharged, nanoOfUsd } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/**
 * Audit of docs/errors.md on every tenant route of docs/generation.md: the one envelope for every error (unknown
 * routes and method mismatches included), both ways of sending the key, revocation within 5 s,
 * and "no input, however malformed, may produce a 500, hang, or charge anything".
 */

const TENANT_ROUTES: { method: string; path: string; json?: unknown }[] = [
  { method: 'POST', path: '/image/generation', json: { positive_prompt: 'x', width: 256, height: 256 } },
  { method: 'POST', path: '/v1/images/generations', json: { prompt: 'x', size: '256x256' } },
  { method: 'POST', path: '/v1/estimate', json: { positive_prompt: 'x' } },
  { method: 'GET', path: '/v1/usage' },
  { method: 'GET', path: '/v1/images/img_doesnotexist0000' },
];

describe('docs/errors.md on every tenant route', () => {
  it('401 in the envelope without a key, with a malformed key and with an unknown key', async () => {
    for (const route of TENANT_ROUTES) {
      const variants: Record<string, string>[] = [{}, { authorization: 'Bearer nope' }, { 'x-api-key': `igk_${'a'.repeat(40)}` }, { authorization: 'Basic abc' }];
      for (const headers of variants) {
        const r = await call(route.method, route.path, { json: route.json, headers });
        expectError(r, 401, 'unauthorized');
      }
    }
  });

  it('x-api-key authenticates every tenant route as Bearer does', async () => {
    const { key } = await createTenantWithKey();
    for (const route of TENANT_ROUTES) {
      const viaHeader = await call(route.method, route.path, { json: route.json, headers: { 'x-api-key': key } });
      const viaBearer = await call(route.method, route.path, { json: route.json, key });
      expect(viaHeader.status, `${route.method} ${route.path}`).toBe(viaBearer.status);
      expect([200, 404]).toContain(viaHeader.status);
    }
  });

  it('a method the route does not serve answers 405 method_not_allowed in the envelope, with Allow, with or without a key', async () => {
    const { key } = await createTenantWithKey();
    const cases: [string, string][] = [
      ['GET', '/image/generation'],
      ['PUT', '/image/generation'],
      ['DELETE', '/image/generation'],
      ['PATCH', '/image/generation'],
      ['OPTIONS', '/image/generation'],
      ['PUT', '/v1/images/generations'],
      ['DELETE', '/v1/images/generations'],
      ['GET', '/v1/estimate'],
      ['PUT', '/v1/estimate'],
      ['POST', '/v1/usage'],
      ['DELETE', '/v1/usage'],
      ['POST', '/v1/images/img_doesnotexist0000'],
      ['DELETE', '/v1/images/img_doesnotexist0000'],
      ['POST', '/healthz'],
      ['POST', '/openapi.json'],
      ['POST', '/docs'],
    ];
    for (const [method, path] of cases) {
      for (const options of [{}, { key }]) {
        const r = await call(method, path, { ...options, ...(method === 'GET' || method === 'OPTIONS' ? {} : { json: {} }) });
        expectError(r, 405, 'method_not_allowed');
        expect(r.headers.get('allow')).toBeTruthy();
      }
    }
    // HEAD has no body to carry the envelope, but must not be a 2xx or a 5xx either
    const head = await call('HEAD', '/image/generation', { key });
    expect(head.status).toBe(405);
  });

  it('an internal error answers 500 internal in the envelope, without a stack or the key', async () => {
    const { key } = await createTenantWithKey();
    const broken = {
      ...env,
      DB: {
        prepare() {
          throw new Error(`D1 exploded at /src/secret/path.ts:1:1 with ${key}`);
        },
        batch() {
          throw new Error('D1 exploded');
        },
      },
    } as unknown as TestEnv;
    // a fresh key: the caller cache must not answer for it
    const fresh = `igk_${unique('x').replace(/[^0-9A-Za-z]/g, '').padEnd(40, 'Z')}`;
    const r = await call('GET', '/v1/usage', { key: fresh, env: broken });
    expectError(r, 500, 'internal');
    expect(r.text()).not.toContain('exploded');
    expect(r.text()).not.toContain('.ts:');
    expect(r.text()).not.toContain(fresh);
  });
});

describe('docs/errors.md revocation, disabling and expiry take effect within 5 seconds (even when D1 changed behind this isolate)', () => {
  for (const [what, sql, status, code] of [
    ['revoked key', "UPDATE api_keys SET revoked_at = '2030-01-01T00:00:00.000Z' WHERE id = ?1 AND tenant_id = ?2", 401, 'unauthorized'],
    ['disabled key', 'UPDATE api_keys SET disabled = 1 WHERE id = ?1 AND tenant_id = ?2', 403, 'forbidden'],
    ['disabled tenant', 'UPDATE tenants SET disabled = 1 WHERE id = ?2 AND ?1 IS NOT NULL', 403, 'forbidden'],
    ['expired key', "UPDATE api_keys SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1 AND tenant_id = ?2", 401, 'unauthorized'],
  ] as const) {
    it(`${what}: refused 5 s after the change`, async () => {
      let now = Date.UTC(2031, 2, 3, 4, 5, 6);
      const app = appWithClock(() => now);
      const t = await createTenantWithKey();
      expect((await call('GET', '/v1/usage', { app, key: t.key })).status).toBe(200);
      // straight to D1, as another isolate's admin call would: this isolate hears nothing of it
      await env.DB.prepare(sql).bind(t.keyId, t.tenantId).run();
      now += 5_000;
      const r = await call('POST', '/image/generation', { app, key: t.key, json: genBody(unique('revoked')) });
      expectError(r, status, code);
      await expectNothingCharged(t);
    });
  }
});

/** Asserts an answer is an image/JSON success or the envelope with a 4xx, never a 5xx. */
function expectNo5xx(r: CallResult, which: string): void {
  expect(r.status, `${which}: ${r.text().slice(0, 300)}`).toBeLessThan(500);
  if (r.status >= 400 && r.status !== 404) {
    const body = r.json();
    const code = body.error.code as ErrorCode;
    expect(ERROR_CODES[code].status, which).toBe(r.status);
    expectError(r, r.status, code);
  }
}

const WEIRD_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  -0,
  1e308,
  -1e308,
  0.5,
  4294967296,
  2 ** 53 + 2,
  '',
  ' ',
  '1024',
  '1024x1024',
  '0x0',
  'auto',
  '\u0000',
  '\ud800',
  'x'.repeat(10_001),
  [],
  [1],
  {},
  { a: 1 },
  'NaN',
  'png',
];

function fieldsFor(path: string): string[] {
  return path === '/v1/images/generations'
    ? ['model', 'prompt', 'n', 'size', 'response_format', 'output_format', 'user', 'negative_prompt', 'steps', 'cfg', 'seed', '__proto__', 'constructor', 'quality']
    : ['model', 'positive_prompt', 'prompt', 'negative_prompt', 'width', 'height', 'steps', 'cfg', 'seed', 'output_format', '__proto__', 'step'];
}

describe('no malformed input produces a 500 or a charge', () => {
  for (const path of ['/v1/images/generations', '/v1/estimate', '/image/generation']) {
    it(`${path}: every field set to every odd value`, async () => {
      const t = await createTenantWithKey({ key: { budget_usd: '0.001' } });
      const { scenario, env: e } = loopback('audit-fuzz');
      const base = path === '/v1/images/generations' ? { prompt: `fz ${scenario}`, size: '256x256' } : { positive_prompt: `fz ${scenario}`, width: 256, height: 256 };
      const bodies: string[] = [];
      for (const field of fieldsFor(path)) {
        for (const value of WEIRD_VALUES) {
          // built as text so __proto__ is a real key in the JSON
          const text = JSON.stringify(base).slice(0, -1) + `,${JSON.stringify(field)}:${JSON.stringify(value) ?? 'null'}}`;
          bodies.push(text);
        }
      }
      let images = 0;
      let charged = 0n;
      for (let i = 0; i < bodies.length; i += 25) {
        const batch = bodies.slice(i, i + 25);
        const answers = await Promise.all(
          batch.map((body) => call('POST', path, { key: t.key, env: e, body, headers: { 'content-type': 'application/json' } })),
        );
        answers.forEach((r, j) => {
          const which = batch[j]!.slice(0, 160);
          expectNo5xx(r, which);
          if (r.status === 200 && path !== '/v1/estimate') {
            images++;
            charged += nanoOfUsd(r.headers.get('imagegate-cost-usd'));
          }
        });
      }
      const after = await budgetState('key', t.keyId);
      expect(after.reservedNano).toBe(0n);
      expect(after.spentNano).toBe(charged);
      if (path === '/v1/estimate') expect(after.spentNano).toBe(0n);
      expect((await originCalls(scenario)).length).toBeGreaterThanOrEqual(images > 0 ? 1 : 0);
    });
  }

  it('odd headers on a generation: never a 5xx, never a charge unless an image came back', async () => {
    const t = await createTenantWithKey();
    const { env: e } = loopback('audit-hdr-fuzz');
    const headerSets: Record<string, string>[] = [
      { 'idempotency-key': '"' },
      { 'idempotency-key': '""' },
      { 'idempotency-key': '"\\"' },
      // outside printable ASCII (a non-ASCII value makes the test runner's fetch print a warning on every run)
      { 'idempotency-key': 'a\u007fb' },
      { 'idempotency-key': 'a'.repeat(255) },
      { 'idempotency-key': 'a'.repeat(5000) },
      { 'cache-control': 'no-cache=, no-store=""' },
      { 'cache-control': ',,,,' },
      { 'cache-control': 'x'.repeat(8000) },
      { accept: 'application/json;q=abc' },
      { accept: 'application/json;q=-1' },
      { accept: ';;;,,,' },
      { accept: '*/*;q=' },
      { 'content-type': 'application/json; charset=latin1' },
      { 'content-type': 'application/json;;;' },
      { 'content-type': ' APPLICATION/JSON ' },
      { authorization: `Bearer ${t.key} extra` },
      { authorization: `Bearer  ${t.key}  ` },
      { 'x-api-key': ` ${t.key} ` },
    ];
    for (const headers of headerSets) {
      const r = await call('POST', '/image/generation', {
        key: headers.authorization || headers['x-api-key'] ? undefined : t.key,
        env: e,
        body: JSON.stringify(genBody(unique('hdr'))),
        headers: { 'content-type': 'application/json', ...headers },
      });
      expectNo5xx(r, JSON.stringify(headers).slice(0, 120));
    }
    expect((await budgetState('key', t.keyId)).reservedNano).toBe(0n);
  });
});

describe('POST /v1/estimate charges nothing and is not a generation', () => {
  it('does not count against rate_limit_rpm, and leaves no ledger row', async () => {
    const t = await createTenantWithKey({ tenant: { rate_limit_rpm: 1 }, key: { budget_usd: '1' } });
    for (let i = 0; i < 3; i++) {
      const r = await call('POST', '/v1/estimate', { key: t.key, json: { positive_prompt: 'x', seed: i } });
      expect(r.status).toBe(200);
      expect(r.headers.get('imagegate-cost-usd')).toBeNull();
    }
    const gen = await call('POST', '/image/generation', { key: t.key, json: genBody(unique('after-estimates')) });
    expect(gen.status, gen.text()).toBe(200);
    const rows = await env.DB.prepare('SELECT count(*) AS n FROM usage_ledger WHERE key_id = ?').bind(t.keyId).first<{ n: number }>();
    expect(rows?.n).toBe(1);
  });
});
