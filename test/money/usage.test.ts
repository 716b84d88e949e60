import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { parseUsd } from '../../src/domain/money';
import { recordFree } from '../../src/storage/ledger';
import { getKey, getTenant } from '../../src/storage/tenants';
import { appWithClock, call, DEFAULT_MODEL, genBody, loopback, scriptOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { BIG, budgetState, expectBooksBalanced, ledger, ledgerSum } from '../helpers/money';
import { countingDb } from '../helpers/counting-db';
import { addKey, createTenantWithKey } from '../helpers/tenants';

describe('POST /v1/estimate', () => {
  it('prices a request exactly and charges nothing', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '0.002' } });
    const r = await call('POST', '/v1/estimate', { key, json: { positive_prompt: 'a cat' } });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ cost_usd: '0.001992295', megapixels: 1.048576, extra_steps: 0, cacheable: false, would_fit_budget: true, within_max_cost: null });
    const more = await call('POST', '/v1/estimate', { key, json: { positive_prompt: 'a cat', steps: 40, seed: 3 } });
    expect(more.json()).toEqual({ cost_usd: '0.002492295', megapixels: 1.048576, extra_steps: 10, cacheable: true, would_fit_budget: false, within_max_cost: null });
    const noStore = await call('POST', '/v1/estimate', { key, json: { positive_prompt: 'a cat', seed: 3 }, headers: { 'cache-control': 'no-store' } });
    expect(noStore.json().cacheable).toBe(false);
    expect((await call('POST', '/v1/estimate', { key, json: { prompt: 'x', width: 256, height: 256 } })).json().megapixels).toBe(0.065536);
    expect(await budgetState('key', keyId)).toMatchObject({ spentNano: 0n, reservedNano: 0n });
    expect(await ledger('key_id', keyId)).toHaveLength(0);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('validates like the generation route', async () => {
    const { key } = await createTenantWithKey();
    for (const [body, param] of [
      [{ positive_prompt: 'x', step: 40 }, 'step'],
      [{ positive_prompt: 'x', width: 1000 }, 'width'],
      [{ width: 1024 }, 'positive_prompt'],
      [{ positive_prompt: 'x', model: 'no/such' }, 'model'],
    ] as const) {
      const r = await call('POST', '/v1/estimate', { key, json: body });
      expectError(r, 400, 'invalid_request', { param: param });
    }
    expect((await call('POST', '/v1/estimate', { json: { positive_prompt: 'x' } })).status).toBe(401);
  });

  it('would_fit_budget looks at the tenant too, and at what is spent', async () => {
    const { key } = await createTenantWithKey({ tenant: { budget_usd: '0.003' }, key: { budget_usd: '1' } });
    const { scenario, env: e } = loopback('fit');
    expect((await call('POST', '/v1/estimate', { key, json: { prompt: 'x' } })).json().would_fit_budget).toBe(true);
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, BIG) })).status).toBe(200);
    expect((await call('POST', '/v1/estimate', { key, json: { prompt: 'x' } })).json().would_fit_budget).toBe(false);
    expect((await call('POST', '/v1/estimate', { key, json: { prompt: 'x', width: 256, height: 256 } })).json().would_fit_budget).toBe(true);
  });
  it('reads the two budget rows and nothing of the ledger, in one round trip, however much was generated', async () => {
    const { key } = await createTenantWithKey({ tenant: { budget_usd: '1' }, key: { budget_usd: '1' } });
    const { scenario, env: e } = loopback('estimate-reads');
    for (const seed of [1, 2, 3]) expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed }) })).status).toBe(200);
    const counted = countingDb();
    const r = await call('POST', '/v1/estimate', { key, env: { ...e, DB: counted.db }, json: { prompt: 'x' } });
    expect(r.json().would_fit_budget).toBe(true);
    // besides the key's lookup (when it is not in the isolate's cache): one batch of the budget rows
    expect(counted.trips.filter((trip) => trip.join(' ').includes('reserved_nano'))).toHaveLength(1);
    expect(counted.trips.filter((trip) => trip.join(' ').includes('usage_ledger'))).toEqual([]);
  });
});

describe('GET /v1/usage', () => {
  it('reports the key and the tenant for their current periods; refusals are not usage', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ tenant: { budget_usd: '10', budget_period: 'none' }, key: { budget_usd: '0.00398459', budget_period: 'day' } });
    const other = await addKey(tenantId);
    const { scenario, env: e } = loopback('usage');
    await scriptOrigin(scenario, ['500']);
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 1 }) })).status).toBe(502);
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 2 }) })).status).toBe(200);
    expect((await call('POST', '/image/generation', { key: other.key, env: e, json: genBody(scenario, { ...BIG, seed: 3 }) })).status).toBe(200);
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 4 }) })).status).toBe(200);
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 5 }) })).status).toBe(402);
    // a cache hit, as the pipeline records one
    const caller = { key: (await getKey(env.DB, keyId))!, tenant: (await getTenant(env.DB, tenantId))! };
    const request = { model: DEFAULT_MODEL, prompt: 'p', negative_prompt: '', width: 1024, height: 1024, steps: 30, cfg: 7.5, seed: 2, output_format: 'png' as const };
    await recordFree(env.DB, caller, { generationId: unique('req_hit'), requestId: 'req_hit', request, cache: 'hit', origin: 'cache', status: 'ok', latencyMs: 1 }, Date.now());

    const r = await call('GET', '/v1/usage', { key });
    expect(r.status).toBe(200);
    const today = new Date();
    const tomorrow = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1)).toISOString();
    expect(r.json()).toEqual({
      key: {
        id: keyId,
        name: expect.any(String),
        spent_usd: '0.00398459',
        reserved_usd: '0',
        budget_usd: '0.00398459',
        remaining_usd: '0',
        period: 'day',
        period_resets_at: tomorrow,
        requests: 4, // the failure counts (it passed the budget), the 402 does not
        cache_hits: 1,
        coalesced: 0,
        saved_usd: '0', // the hit row above was written without a list cost
      },
      tenant: {
        id: tenantId,
        name: expect.any(String),
        spent_usd: '0.005976885',
        reserved_usd: '0',
        budget_usd: '10',
        remaining_usd: '9.994023115',
        period: 'none',
        period_resets_at: null,
        requests: 5,
        cache_hits: 1,
        coalesced: 0,
        saved_usd: '0',
      },
    });
    await expectBooksBalanced([keyId, other.keyId], tenantId);
    // another tenant sees only itself
    const stranger = await createTenantWithKey();
    const s = (await call('GET', '/v1/usage', { key: stranger.key })).json();
    expect(s.key).toMatchObject({ id: stranger.keyId, spent_usd: '0', requests: 0, budget_usd: null, remaining_usd: null, period: 'month' });
    expect((await call('GET', '/v1/usage')).status).toBe(401);
  });
});

describe('GET /admin/usage', () => {
  async function seedThreeDays() {
    let now = Date.UTC(2034, 0, 10, 12, 0, 0);
    const app = appWithClock(() => now);
    const a = await createTenantWithKey();
    const b = await addKey(a.tenantId);
    const { scenario, env: e } = loopback('admin-usage');
    let seed = 0;
    const gen = (key: string, extra: Record<string, unknown> = {}) =>
      call('POST', '/image/generation', { app, key, env: e, json: genBody(scenario, { seed: ++seed, ...extra }) });
    await gen(a.key);
    await gen(a.key, BIG);
    await scriptOrigin(scenario, ['500']);
    await gen(b.key);
    now = Date.UTC(2034, 0, 11, 23, 59, 59);
    await gen(b.key, { steps: 40 });
    now = Date.UTC(2034, 0, 12, 0, 0, 0);
    await gen(a.key);
    return { a, b };
  }

  function parseCsv(text: string) {
    const lines = text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('group,requests,cache_hits,failed,cost_usd,coalesced,saved_usd');
    return lines.slice(1).map((line) => {
      const [group, requests, cacheHits, failed, cost, coalesced, saved] = line.split(',');
      return { group, requests: Number(requests), cache_hits: Number(cacheHits), failed: Number(failed), cost_usd: cost, coalesced: Number(coalesced), saved_usd: saved };
    });
  }

  it('groups by day, key, model and tenant; CSV and JSON agree; totals equal the ledger', async () => {
    const { a, b } = await seedThreeDays();
    const json = (await call('GET', `/admin/usage?tenant_id=${a.tenantId}&group_by=day`, { admin: true })).json();
    expect(json.rows).toEqual([
      { group: '2034-01-10', requests: 3, cache_hits: 0, failed: 1, cost_usd: '0.002116814', coalesced: 0, saved_usd: '0' },
      { group: '2034-01-11', requests: 1, cache_hits: 0, failed: 0, cost_usd: '0.000624519', coalesced: 0, saved_usd: '0' },
      { group: '2034-01-12', requests: 1, cache_hits: 0, failed: 0, cost_usd: '0.000124519', coalesced: 0, saved_usd: '0' },
    ]);
    expect(json.total).toEqual({ requests: 5, cache_hits: 0, failed: 1, cost_usd: '0.002865852', coalesced: 0, saved_usd: '0' });
    expect(parseUsd(json.total.cost_usd)).toBe(await ledgerSum('tenant_id', a.tenantId));

    for (const groupBy of ['day', 'key', 'model', 'tenant']) {
      const q = `tenant_id=${a.tenantId}&group_by=${groupBy}`;
      const j = (await call('GET', `/admin/usage?${q}`, { admin: true })).json();
      const csv = await call('GET', `/admin/usage?${q}&format=csv`, { admin: true });
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      const rows = parseCsv(csv.text());
      expect(rows).toEqual(j.rows);
      expect(rows.reduce((s, r) => s + r.requests, 0)).toBe(j.total.requests);
      expect(rows.reduce((s, r) => s + r.failed, 0)).toBe(j.total.failed);
      expect(rows.reduce((s, r) => s + parseUsd(r.cost_usd!)!, 0n)).toBe(parseUsd(j.total.cost_usd));
      expect(j.total).toEqual(json.total);
    }
    const byKey = (await call('GET', `/admin/usage?tenant_id=${a.tenantId}&group_by=key`, { admin: true })).json();
    expect(byKey.rows.map((r: { group: string }) => r.group).sort()).toEqual([a.keyId, b.keyId].sort());
    const byModel = (await call('GET', `/admin/usage?tenant_id=${a.tenantId}&group_by=model`, { admin: true })).json();
    expect(byModel.rows).toEqual([{ group: DEFAULT_MODEL, ...json.total }]);
  });

  it('filters by key and by an inclusive date range', async () => {
    const { a, b } = await seedThreeDays();
    const oneKey = (await call('GET', `/admin/usage?key_id=${b.keyId}`, { admin: true })).json();
    expect(oneKey.total).toEqual({ requests: 2, cache_hits: 0, failed: 1, cost_usd: '0.000624519', coalesced: 0, saved_usd: '0' });
    const range = (await call('GET', `/admin/usage?tenant_id=${a.tenantId}&from=2034-01-11&to=2034-01-11`, { admin: true })).json();
    expect(range.rows.map((r: { group: string }) => r.group)).toEqual(['2034-01-11']);
    const to = (await call('GET', `/admin/usage?tenant_id=${a.tenantId}&to=2034-01-11&group_by=tenant`, { admin: true })).json();
    expect(to.rows).toEqual([{ group: a.tenantId, requests: 4, cache_hits: 0, failed: 1, cost_usd: '0.002741333', coalesced: 0, saved_usd: '0' }]);
    const none = (await call('GET', `/admin/usage?tenant_id=${a.tenantId}&from=2034-02-01&format=csv`, { admin: true }));
    expect(none.text()).toBe('group,requests,cache_hits,failed,cost_usd,coalesced,saved_usd\r\n');
  });

  it.each([
    ['group_by=week', 'group_by'],
    ['format=xml', 'format'],
    ['from=2034-13-01', 'from'],
    ['to=2034-02-30', 'to'],
    ['from=yesterday', 'from'],
    ['from=2034-01-12&to=2034-01-11', 'to'],
    ['tenant=abc', 'tenant'],
  ])('?%s → 400 naming %s', async (query, param) => {
    const r = await call('GET', `/admin/usage?${query}`, { admin: true });
    expectError(r, 400, 'invalid_request', { param });
  });

  it('needs the admin token', async () => {
    const { key } = await createTenantWithKey();
    expect((await call('GET', '/admin/usage', { key })).status).toBe(401);
  });
});
