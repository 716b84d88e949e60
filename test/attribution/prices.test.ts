import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, genBody, loopback } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState, expectBooksBalanced, ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { ownModel, putPrice } from './support';

/** docs/money.md, "Prices change without rewriting history": price versions with an effective_at. */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// 256×256 = 65,536 pixels: at 0.0019 USD/MP 124,519 nano-USD; at 0.0038 USD/MP 249,037
const OLD = 124_519n;
const NEW = 249_037n;

async function ledgerPrices(keyId: string) {
  const { results } = await env.DB.prepare('SELECT cost_nano, price_version, list_cost_nano FROM usage_ledger WHERE key_id = ? ORDER BY id')
    .bind(keyId)
    .all<{ cost_nano: number; price_version: number; list_cost_nano: number }>();
  return results.map((r) => [BigInt(r.cost_nano), r.price_version, BigInt(r.list_cost_nano)]);
}

describe('price versions', () => {
  it('a price change that takes effect while a request is at the origin: reserved and settled at the old price', async () => {
    const model = await ownModel({ perMegapixel: '0.0019' });
    const t = await createTenantWithKey({ key: { budget_usd: '1' } });
    const { scenario, env: e } = loopback('price-flight', 'slow-1500');
    const inFlight = call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { model }) });
    await sleep(400);
    expect((await budgetState('key', t.keyId)).reservedNano).toBe(OLD);
    expect((await putPrice(model, { perMegapixel: '0.0038' })).status).toBe(200);
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.headers.get('imagegate-cost-usd')).toBe('0.000124519');
    expect(await budgetState('key', t.keyId)).toMatchObject({ spentNano: OLD, reservedNano: 0n });
    const after = await call('POST', '/image/generation', { key: t.key, env: loopback('price-after').env, json: genBody(scenario, { model }) });
    expect(after.headers.get('imagegate-cost-usd')).toBe('0.000249037');
    expect(await ledgerPrices(t.keyId)).toEqual([
      [OLD, 1, OLD],
      [NEW, 2, NEW],
    ]);
    await expectBooksBalanced([t.keyId], t.tenantId);
  });

  it('a future effective_at: earlier versions stay, the cached spec switches the moment the new one starts', async () => {
    const model = await ownModel({ perMegapixel: '0.0019' });
    const t = await createTenantWithKey();
    const { scenario, env: e } = loopback('price-future');
    const starts = new Date(Date.now() + 1_500).toISOString();
    const put = await putPrice(model, { perMegapixel: '0.0038', perStep: '0.0001', included: 20 }, starts);
    expect(put.status).toBe(200);
    expect(put.json().price_per_megapixel_usd).toBe('0.0019');
    const gen = (seed: number) => call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { model, seed }) });
    expect((await gen(1)).headers.get('imagegate-cost-usd')).toBe('0.000124519');
    await sleep(Date.parse(starts) - Date.now() + 20);
    // within the isolate's few seconds of model cache, yet priced by the new version: 249,037 + 10 extra steps × 100,000
    expect((await gen(2)).headers.get('imagegate-cost-usd')).toBe('0.001249037');
    const prices = await call('GET', `/admin/models/${encodeURIComponent(model)}/prices`, { admin: true });
    expect(prices.status).toBe(200);
    expect(prices.json().versions).toEqual([
      { version: 1, effective_at: expect.any(String), price_per_megapixel_usd: '0.0019', included_steps: 30, price_per_extra_step_usd: '0.00005' },
      { version: 2, effective_at: starts, price_per_megapixel_usd: '0.0038', included_steps: 20, price_per_extra_step_usd: '0.0001' },
    ]);
    expect((await call('GET', `/admin/models/${model}/prices`, { admin: true })).json()).toEqual(prices.json());
    const now = await call('GET', `/admin/models/${encodeURIComponent(model)}`, { admin: true });
    expect(now.json()).toMatchObject({ price_per_megapixel_usd: '0.0038', included_steps: 20 });
    expect((await ledgerPrices(t.keyId)).map((r) => r[1])).toEqual([1, 2]);
  });

  it('existing models migrated to version 1; a bad effective_at, a new model priced only in the future and an unknown model are refused', async () => {
    const seed = await call('GET', '/admin/models/stabilityai%2Fstable-diffusion-3.5-large/prices', { admin: true });
    expect(seed.json().versions[0]).toEqual({
      version: 1,
      effective_at: '1970-01-01T00:00:00.000Z',
      price_per_megapixel_usd: '0.0019',
      included_steps: 30,
      price_per_extra_step_usd: '0.00005',
    });
    const model = await ownModel({ perMegapixel: '0.0019' });
    expectError(await putPrice(model, { perMegapixel: '0.001' }, 'tomorrow'), 400, 'invalid_request', { param: 'effective_at' });
    const future = new Date(Date.now() + 86_400_000).toISOString();
    expectError(await putPrice(`${model}-new`, { perMegapixel: '0.001' }, future), 400, 'invalid_request', { param: 'effective_at' });
    expectError(await call('GET', `/admin/models/${encodeURIComponent(`${model}-new`)}/prices`, { admin: true }), 404, 'not_found');
    expect((await call('GET', `/admin/models/${encodeURIComponent(model)}/prices`, { admin: true })).json().versions).toHaveLength(1);
  });

  it('every ledger row records its price version, cache hits included', async () => {
    const model = await ownModel({ perMegapixel: '0.0019' });
    const t = await createTenantWithKey();
    const { scenario, env: e } = loopback('price-hit');
    expect((await call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { model, seed: 9 }) })).status).toBe(200);
    await putPrice(model, { perMegapixel: '0.0038' });
    const hit = await call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { model, seed: 9 }) });
    expect(hit.headers.get('cache-status')).toBe('imagegate; hit');
    expect(await ledgerPrices(t.keyId)).toEqual([
      [OLD, 1, OLD],
      [0n, 2, NEW],
    ]);
    expect((await ledger('key_id', t.keyId)).map((r) => r.cache)).toEqual(['miss', 'hit']);
  });
});
