import { describe, expect, it } from 'vitest';
import { call, DEFAULT_MODEL, loopback, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState, expectBooksBalanced } from '../helpers/money';
import { customPriceRow, seedPriceRow } from '../helpers/models';
import { createTenantWithKey } from '../helpers/tenants';

const SEED_ROW = seedPriceRow();

describe('admin: price rows (docs/admin.md)', () => {
  it('reads the seed row by URL-encoded id and by raw slash, and lists it', async () => {
    const encoded = await call('GET', `/admin/models/${encodeURIComponent(DEFAULT_MODEL)}`, { admin: true });
    expect(encoded.status).toBe(200);
    expect(encoded.json()).toEqual(SEED_ROW);
    const raw = await call('GET', `/admin/models/${DEFAULT_MODEL}`, { admin: true });
    expect(raw.json()).toEqual(SEED_ROW);
    const list = await call('GET', '/admin/models', { admin: true });
    expect(list.json().data).toContainEqual(SEED_ROW);
    expect((await call('GET', '/admin/models/no%2Fsuch-model', { admin: true })).status).toBe(404);
    expect((await call('GET', '/admin/models', {})).status).toBe(401);
    expect((await call('PUT', `/admin/models/${DEFAULT_MODEL}`, { json: SEED_ROW })).status).toBe(401);
  });

  it('a new model is data: PUT it, and validation and price follow the row', async () => {
    const model = `${unique('acme')}/tiny-diffusion`;
    const put = await call('PUT', `/admin/models/${encodeURIComponent(model)}`, { admin: true, json: customPriceRow() });
    expect(put.status, put.text()).toBe(201);
    expect(put.json()).toMatchObject({ model, price_per_megapixel_usd: '0.01', price_per_extra_step_usd: '0.001' });
    const again = await call('PUT', `/admin/models/${model}`, { admin: true, json: { ...customPriceRow(), model } });
    expect(again.status).toBe(200);

    const { key, keyId, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('custom-model');
    // 512×512 = 262,144 px × 0.01 USD/MP = 2,621,440 nano; 15 steps = 5 extra × 1,000,000
    const est = await call('POST', '/v1/estimate', { key, json: { model, prompt: 'x', width: 512, height: 512, steps: 15, cfg: 2 } });
    expect(est.status, est.text()).toBe(200);
    expect(est.json()).toMatchObject({ cost_usd: '0.00762144', megapixels: 0.262144, extra_steps: 5 });
    const gen = await call('POST', '/image/generation', { key, env: e, json: { model, prompt: scenario, width: 512, height: 512, steps: 15, cfg: 2 } });
    expect(gen.status, gen.text()).toBe(200);
    expect(gen.headers.get('imagegate-cost-usd')).toBe('0.00762144');
    // the row's limits: 1024 is over its max width, 96 not a multiple of 64, the defaults (30 steps, cfg 7.5) over 20 and 5
    for (const [body, param] of [
      [{ width: 1024, cfg: 2, steps: 5 }, 'width'],
      [{ height: 96, width: 64, cfg: 2, steps: 5 }, 'height'],
      [{ width: 64, height: 64, steps: 5 }, 'cfg'],
      [{ width: 64, height: 64, cfg: 2, steps: 21 }, 'steps'],
    ] as const) {
      const r = await call('POST', '/image/generation', { key, env: e, json: { model, prompt: 'x', height: 64, ...body } });
      expectError(r, 400, 'invalid_request', { param: param });
    }
    expect((await budgetState('key', keyId)).spentNano).toBe(7_621_440n);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('a price change applies to the next request at once', async () => {
    const model = `${unique('acme')}/repriced`;
    await call('PUT', `/admin/models/${encodeURIComponent(model)}`, { admin: true, json: customPriceRow() });
    const { key } = await createTenantWithKey();
    const body = { model, prompt: 'x', width: 64, height: 64, steps: 1, cfg: 1 };
    expect((await call('POST', '/v1/estimate', { key, json: body })).json().cost_usd).toBe('0.00004096');
    await call('PUT', `/admin/models/${encodeURIComponent(model)}`, { admin: true, json: { ...customPriceRow(), price_per_megapixel_usd: '1' } });
    expect((await call('POST', '/v1/estimate', { key, json: body })).json().cost_usd).toBe('0.004096');
  });

  it.each([
    [{ price_per_megapixel_usd: '1e3' }, 'price_per_megapixel_usd'],
    [{ price_per_megapixel_usd: '-1' }, 'price_per_megapixel_usd'],
    [{ price_per_extra_step_usd: '0.0000000001' }, 'price_per_extra_step_usd'],
    [{ price_per_extra_step_usd: 0.00005 }, 'price_per_extra_step_usd'],
    [{ included_steps: -1 }, 'included_steps'],
    [{ width: { min: 512, max: 256, multiple_of: 16 } }, 'width.min'],
    [{ steps: { min: 1 } }, 'steps.max'],
    [{ cfg: { min: 0, max: 20, step: 1 } }, 'cfg.step'],
    [{ colour: 'blue' }, 'colour'],
    [{ model: 'something/else' }, 'model'],
  ])('PUT refuses %j with 400 naming %s', async (change, param) => {
    const model = `${unique('acme')}/bad`;
    const r = await call('PUT', `/admin/models/${encodeURIComponent(model)}`, { admin: true, json: { ...customPriceRow(), ...change } });
    expectError(r, 400, 'invalid_request', { param });
    expect((await call('GET', `/admin/models/${encodeURIComponent(model)}`, { admin: true })).status).toBe(404);
  });
});

describe('admin: budgets are exact decimals', () => {
  it.each(['1e3', '-1', '0.0000000001', '1.', '.5', ' 1', 'ten'])('budget_usd %j → 400 param budget_usd', async (bad) => {
    const t = await call('POST', '/admin/tenants', { admin: true, json: { name: unique('t'), budget_usd: bad } });
    expectError(t, 400, 'invalid_request', { param: 'budget_usd' });
    const { tenantId, keyId } = await createTenantWithKey();
    const k = await call('POST', `/admin/tenants/${tenantId}/keys`, { admin: true, json: { name: 'k', budget_usd: bad } });
    expectError(k, 400, 'invalid_request', { param: 'budget_usd' });
    const p = await call('PATCH', `/admin/keys/${keyId}`, { admin: true, json: { budget_usd: bad } });
    expectError(p, 400, 'invalid_request', { param: 'budget_usd' });
  });

  it('a number instead of a string is refused too (it would have passed through a float)', async () => {
    const t = await call('POST', '/admin/tenants', { admin: true, json: { name: unique('t'), budget_usd: 25.1 } });
    expectError(t, 400, 'invalid_request', { param: 'budget_usd' });
  });

  it('"25.10" is stored as exactly 25,100,000,000 nano-USD', async () => {
    const { keyId, tenantId } = await createTenantWithKey({ tenant: { budget_usd: '25.10' }, key: { budget_usd: '0.000000001' } });
    expect((await budgetState('key', keyId)).budgetNano).toBe(1n);
    const t = await call('GET', `/admin/tenants/${tenantId}`, { admin: true });
    expect(t.json().budget_usd).toBe('25.1');
  });
});
