import { describe, expect, it } from 'vitest';
import { call, genBody, isPng, loopback, originCalls, unique, type CallResult } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';

/**
 * Audit of docs/generation.md "headers": every header of the table on BOTH generation routes, for every
 * Cache-Status the table lists, and the JSON answers' `cache` word for each.
 */

const CACHE_STATUSES = [
  'imagegate; hit',
  'imagegate; hit; detail=coalesced',
  'imagegate; fwd=miss; stored',
  'imagegate; fwd=bypass; stored',
  'imagegate; fwd=request; stored',
  'imagegate; fwd=request',
];

function expectGenerationHeaders(r: CallResult, expected: { cacheStatus: string; cost: string; origin: string; seed?: string }) {
  expect(r.status, r.text()).toBe(200);
  expect(r.headers.get('x-request-id')).toMatch(/^req_[0-9A-Za-z]+$/);
  expect(CACHE_STATUSES).toContain(r.headers.get('cache-status'));
  expect(r.headers.get('cache-status')).toBe(expected.cacheStatus);
  expect(r.headers.get('imagegate-cost-usd')).toBe(expected.cost);
  expect(r.headers.get('imagegate-origin')).toBe(expected.origin);
  if (expected.seed !== undefined) expect(r.headers.get('imagegate-seed')).toBe(expected.seed);
  else expect(r.headers.get('imagegate-seed')).toMatch(/^[0-9]+$/);
}

const SMALL = '0.000124519'; // 256×256 at 30 steps

describe('docs/generation.md headers on both generation routes', () => {
  it('RateLimit fields and Imagegate-Budget-Remaining-USD (the smaller of key and tenant) on /image/generation and /v1/images/generations', async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: '1', budget_period: 'month', rate_limit_rpm: 50 }, key: { budget_usd: '0.5', budget_period: 'day' } });
    const { scenario, env: e } = loopback('audit-hdr');
    const q = await call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { seed: 11 }) });
    expectGenerationHeaders(q, { cacheStatus: 'imagegate; fwd=miss; stored', cost: SMALL, origin: `${scenario}-png`.slice(0, 64), seed: '11' });
    expect(q.headers.get('ratelimit-policy')).toBe('"rpm";q=50;w=60');
    expect(q.headers.get('ratelimit')).toMatch(/^"rpm";r=49;t=\d+$/);
    expect(q.headers.get('imagegate-budget-remaining-usd')).toBe('0.499875481');

    const o = await call('POST', '/v1/images/generations', {
      key: t.key,
      env: e,
      json: { prompt: genBody(scenario).positive_prompt, size: '256x256', seed: 12 },
    });
    expectGenerationHeaders(o, { cacheStatus: 'imagegate; fwd=miss; stored', cost: SMALL, origin: `${scenario}-png`.slice(0, 64), seed: '12' });
    expect(o.headers.get('ratelimit-policy')).toBe('"rpm";q=50;w=60');
    expect(o.headers.get('ratelimit')).toMatch(/^"rpm";r=48;t=\d+$/);
    expect(o.headers.get('imagegate-budget-remaining-usd')).toBe('0.499750962');
    expect(o.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('no Imagegate-Budget-Remaining-USD and no RateLimit fields when neither key nor tenant has a budget or a limit', async () => {
    const t = await createTenantWithKey();
    for (const [path, json] of [
      ['/image/generation', { positive_prompt: unique('nob'), width: 256, height: 256 }],
      ['/v1/images/generations', { prompt: unique('nob'), size: '256x256' }],
    ] as const) {
      const r = await call('POST', path, { key: t.key, json });
      expect(r.status).toBe(200);
      expect(r.headers.get('imagegate-budget-remaining-usd')).toBeNull();
      expect(r.headers.get('ratelimit')).toBeNull();
      expect(r.headers.get('ratelimit-policy')).toBeNull();
    }
  });

  it('the OpenAI route says every Cache-Status the Qubrid route says, and data[i].cache matches', async () => {
    const { key } = await createTenantWithKey({ key: { budget_usd: '1' } });
    const prompt = unique('audit-oa-cs');
    const body = (extra: Record<string, unknown> = {}) => ({ prompt, size: '256x256', ...extra });
    const gen = (json: unknown, headers: Record<string, string> = {}) => call('POST', '/v1/images/generations', { key, json, headers });

    const miss = await gen(body({ seed: 1 }));
    expectGenerationHeaders(miss, { cacheStatus: 'imagegate; fwd=miss; stored', cost: SMALL, origin: 'local', seed: '1' });
    expect(miss.json().data[0].cache).toBe('miss');

    const hit = await gen(body({ seed: 1 }));
    expectGenerationHeaders(hit, { cacheStatus: 'imagegate; hit', cost: '0', origin: 'cache', seed: '1' });
    expect(hit.json().data[0].cache).toBe('hit');

    const bypass = await gen(body());
    expectGenerationHeaders(bypass, { cacheStatus: 'imagegate; fwd=bypass; stored', cost: SMALL, origin: 'local' });
    expect(bypass.json().data[0].cache).toBe('bypass');

    const noCache = await gen(body({ seed: 1 }), { 'cache-control': 'no-cache' });
    expectGenerationHeaders(noCache, { cacheStatus: 'imagegate; fwd=request; stored', cost: SMALL, origin: 'local', seed: '1' });
    expect(noCache.json().data[0].cache).toBe('miss');

    const noStore = await gen(body({ seed: 2 }), { 'cache-control': 'no-store' });
    expectGenerationHeaders(noStore, { cacheStatus: 'imagegate; fwd=request', cost: SMALL, origin: 'local', seed: '2' });
    expect(noStore.json().data[0].cache).toBe('miss');
    // no-store wrote nothing: the same seeded request is a miss again
    expect((await gen(body({ seed: 2 }))).headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    for (const r of [miss, hit, bypass, noCache, noStore]) {
      expect(r.headers.get('imagegate-budget-remaining-usd')).toMatch(/^0\.\d+$/);
    }
  });

  it('a coalesced follower on the OpenAI route: detail=coalesced, cost 0, origin cache, data[0].cache coalesced', async () => {
    const { key } = await createTenantWithKey();
    const { scenario, env: e } = loopback('audit-oa-coal', 'slow-600');
    const json = { prompt: `coalesce ${scenario}`, size: '256x256', seed: 5 };
    const answers = await Promise.all(Array.from({ length: 4 }, () => call('POST', '/v1/images/generations', { key, env: e, json })));
    expect(await originCalls(scenario)).toHaveLength(1);
    const statuses = answers.map((r) => r.headers.get('cache-status')).sort();
    expect(statuses.filter((s) => s === 'imagegate; fwd=miss; stored')).toHaveLength(1);
    for (const r of answers.filter((x) => x.headers.get('cache-status') !== 'imagegate; fwd=miss; stored')) {
      // a follower either waited for the leader (coalesced) or came after its entry was stored (hit)
      expect(['imagegate; hit; detail=coalesced', 'imagegate; hit']).toContain(r.headers.get('cache-status'));
      expect(r.headers.get('imagegate-cost-usd')).toBe('0');
      expect(r.headers.get('imagegate-origin')).toBe('cache');
      const word = r.headers.get('cache-status') === 'imagegate; hit' ? 'hit' : 'coalesced';
      expect(r.json().data[0].cache).toBe(word);
    }
    expect(statuses.some((s) => s === 'imagegate; hit; detail=coalesced')).toBe(true);
  });
});

describe('docs/generation.md answer bodies', () => {
  it('Accept: application/json has exactly the listed fields, with their types', async () => {
    const { key } = await createTenantWithKey();
    const r = await call('POST', '/image/generation', {
      key,
      json: { prompt: unique('audit-json'), width: 512, height: 256, seed: 9, output_format: 'png' },
      headers: { accept: 'application/json' },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const j = r.json();
    expect(Object.keys(j).sort()).toEqual(['cache', 'cost_usd', 'created', 'height', 'id', 'image_base64', 'model', 'output_format', 'seed', 'url', 'width']);
    expect(j).toMatchObject({ model: 'stabilityai/stable-diffusion-3.5-large', seed: 9, width: 512, height: 256, output_format: 'png', cost_usd: '0.000249037', cache: 'miss' });
    expect(Number.isInteger(j.created)).toBe(true);
    expect(j.url).toMatch(new RegExp(`^http://gateway\\.test/v1/images/${j.id}\\?exp=\\d+&sig=[\\w-]{43}$`));
    // every header of docs/generation.md is there on the JSON answer too
    for (const h of ['x-request-id', 'cache-status', 'imagegate-cost-usd', 'imagegate-origin', 'imagegate-seed']) expect(r.headers.get(h), h).not.toBeNull();
  });

  it('OpenAI data[i] carries exactly b64_json | url, revised_prompt null, seed and cache', async () => {
    const { key } = await createTenantWithKey();
    const prompt = unique('audit-oa-shape');
    const b64 = await call('POST', '/v1/images/generations', { key, json: { prompt, size: '256x256', seed: 3, n: 2 } });
    expect(b64.status).toBe(200);
    const a = b64.json();
    expect(Object.keys(a).sort()).toEqual(['created', 'data']);
    expect(a.data.map((d: Record<string, unknown>) => Object.keys(d).sort())).toEqual([
      ['b64_json', 'cache', 'revised_prompt', 'seed'],
      ['b64_json', 'cache', 'revised_prompt', 'seed'],
    ]);
    expect(a.data.map((d: { seed: number }) => d.seed)).toEqual([3, 4]);
    expect(a.data.every((d: { revised_prompt: unknown }) => d.revised_prompt === null)).toBe(true);
    expect(b64.headers.get('imagegate-cost-usd')).toBe('0.000249038');

    const url = await call('POST', '/v1/images/generations', { key, json: { prompt, size: '256x256', seed: 3, n: 2, response_format: 'url' } });
    const u = url.json();
    expect(u.data.map((d: Record<string, unknown>) => Object.keys(d).sort())).toEqual([
      ['cache', 'revised_prompt', 'seed', 'url'],
      ['cache', 'revised_prompt', 'seed', 'url'],
    ]);
    expect(u.data.map((d: { cache: string }) => d.cache)).toEqual(['hit', 'hit']);
    expect(url.headers.get('imagegate-cost-usd')).toBe('0');
    for (const d of u.data as { url: string }[]) {
      const img = await call('GET', new URL(d.url).pathname, { key });
      expect(img.status).toBe(200);
      expect(isPng(img.bytes)).toBe(true);
    }
  });
});
