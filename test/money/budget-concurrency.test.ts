import { describe, expect, it } from 'vitest';
import { formatUsd } from '../../src/domain/money';
import { call, genBody, loopback, originCalls } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { BIG, budgetState, expectBooksBalanced, IMAGE_NANO, ledger } from '../helpers/money';
import { addKey, createTenantWithKey } from '../helpers/tenants';

const FIVE_IMAGES = formatUsd(5n * IMAGE_NANO); // "0.009961475"

describe('hard budgets under concurrency (docs/money.md)', () => {
  it('a key budget of exactly 5 images admits exactly 5 of 50 concurrent generations', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: FIVE_IMAGES } });
    const { scenario, env: e } = loopback('burst-key');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 1000 + i }) })),
    );
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 402);
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(45);
    for (const r of ok) expect(r.headers.get('imagegate-cost-usd')).toBe('0.001992295');
    for (const r of refused) {
      expect(expectError(r, 402, 'budget_exceeded')).toMatch(/^key '.+' has [0-9.]+ USD left this month; this request costs 0\.001992295 USD$/);
    }
    const k = await budgetState('key', keyId);
    expect(k.spentNano).toBe(5n * IMAGE_NANO);
    expect(k.reservedNano).toBe(0n);
    expect((await ledger('key_id', keyId)).filter((l) => l.status === 'ok')).toHaveLength(5);
    expect(await originCalls(scenario)).toHaveLength(5);
    await expectBooksBalanced([keyId], tenantId);
    // and now it is exhausted: the 402 says so exactly
    const after = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 7 }) });
    expect(after.status).toBe(402);
    expect(after.json().error.message).toContain("has 0 USD left this month; this request costs 0.001992295 USD");
  });

  it('a tenant budget of exactly 5 images holds across 3 keys hammering it at once', async () => {
    const first = await createTenantWithKey({ tenant: { budget_usd: FIVE_IMAGES, budget_period: 'day' } });
    const keys = [first, await addKey(first.tenantId), await addKey(first.tenantId)];
    const { scenario, env: e } = loopback('burst-tenant');
    const answers = await Promise.all(
      Array.from({ length: 51 }, (_, i) =>
        call('POST', '/image/generation', { key: keys[i % 3]!.key, env: e, json: genBody(scenario, { ...BIG, seed: 2000 + i }) }),
      ),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(5);
    const refused = answers.filter((r) => r.status === 402);
    expect(refused).toHaveLength(46);
    for (const r of refused) expect(r.json().error.message).toMatch(/^tenant '.+' has [0-9.]+ USD left today; this request costs 0\.001992295 USD$/);
    const t = await budgetState('tenant', first.tenantId);
    expect(t.spentNano).toBe(5n * IMAGE_NANO);
    expect(t.reservedNano).toBe(0n);
    expect(await originCalls(scenario)).toHaveLength(5);
    await expectBooksBalanced(keys.map((k) => k.keyId), first.tenantId);
  });

  it('refuses a request that does not fit with what is left, and says what is left', async () => {
    // 1.5 images: the first fits, the second does not, and what is left is reported exactly
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '0.003', budget_period: 'week' } });
    const { scenario, env: e } = loopback('partial');
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 1 }) })).status).toBe(200);
    const r = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 2 }) });
    expect(r.status).toBe(402);
    expect(r.json().error.message).toMatch(/has 0\.001007705 USD left this week; this request costs 0\.001992295 USD$/);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('n images are reserved all or nothing (OpenAI route): 4 do not fit a budget of 3, and nothing is spent', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: formatUsd(3n * IMAGE_NANO) } });
    const { scenario, env: e } = loopback('n-images');
    const four = await call('POST', '/v1/images/generations', { key, env: e, json: { prompt: scenario, n: 4, size: '1024x1024', seed: 10 } });
    expect(four.status).toBe(402);
    expect(four.json().error.message).toMatch(/has 0\.005976885 USD left this month; this request costs 0\.00796918 USD$/);
    expect(await originCalls(scenario)).toHaveLength(0);
    expect(await budgetState('key', keyId)).toMatchObject({ spentNano: 0n, reservedNano: 0n });
    const three = await call('POST', '/v1/images/generations', { key, env: e, json: { prompt: scenario, n: 3, size: '1024x1024', seed: 20 } });
    expect(three.status, three.text()).toBe(200);
    expect(three.headers.get('imagegate-cost-usd')).toBe('0.005976885');
    expect(three.headers.get('imagegate-budget-remaining-usd')).toBe('0');
    expect((await budgetState('key', keyId)).spentNano).toBe(3n * IMAGE_NANO);
    expect((await ledger('key_id', keyId)).map((l) => l.generation_id).sort()).toEqual(
      [0, 1, 2].map((i) => `${three.headers.get('x-request-id')}.${i}`),
    );
    await expectBooksBalanced([keyId], tenantId);
  });

  it('a budget of "0" lets nothing through, and a null budget everything', async () => {
    const zero = await createTenantWithKey({ key: { budget_usd: '0' } });
    const { scenario, env: e } = loopback('zero');
    const r = await call('POST', '/image/generation', { key: zero.key, env: e, json: genBody(scenario, { seed: 1 }) });
    expect(r.status).toBe(402);
    expect(r.json().error.message).toContain('has 0 USD left this month');
    expect(await originCalls(scenario)).toHaveLength(0);
    await expectBooksBalanced([zero.keyId], zero.tenantId);

    const free = await createTenantWithKey();
    const ok = await call('POST', '/image/generation', { key: free.key, env: e, json: genBody(scenario, { seed: 2 }) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('imagegate-budget-remaining-usd')).toBeNull();
    await expectBooksBalanced([free.keyId], free.tenantId);
  });

  it('reports the smaller remaining budget of key and tenant on every generation', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ tenant: { budget_usd: '1' }, key: { budget_usd: '0.5' } });
    const { scenario, env: e } = loopback('remaining');
    const r = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 3 }) });
    expect(r.status).toBe(200);
    expect(r.headers.get('imagegate-cost-usd')).toBe('0.001992295');
    expect(r.headers.get('imagegate-budget-remaining-usd')).toBe('0.498007705');
    await expectBooksBalanced([keyId], tenantId);
  });
});
