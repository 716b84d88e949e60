import { describe, expect, it } from 'vitest';
import { call, envWith, genBody, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { chargesOf, ledger } from '../helpers/money';
import { addKey, createTenantWithKey } from '../helpers/tenants';
import { rateLimitState, retryAfterOf } from './support';

const GEN = '/image/generation';

describe('max_concurrent through the gateway (docs/rate-limits.md)', () => {
  it('lets exactly max_concurrent requests reach a slow origin, refuses the rest, and admits again once they finish', async () => {
    const scenario = unique('conc');
    const env = envWith([testOrigin(scenario, 'slow-1500')]);
    const tk = await createTenantWithKey({ key: { max_concurrent: 2 } });

    const results = await Promise.all(
      Array.from({ length: 4 }, () => call('POST', GEN, { key: tk.key, env, json: genBody(unique('conc')) })),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(2);
    expect(refused).toHaveLength(2);
    for (const r of refused) {
      expectError(r, 429, 'concurrency_limited');
      expect(retryAfterOf(r)).toBeGreaterThanOrEqual(1);
      expect(r.json().error.message).toContain('2 generations in flight');
      expect(r.headers.get('ratelimit-policy')).toBe('"concurrency";q=2;qu="concurrent-requests"');
      expect(rateLimitState(r, 'concurrency').r).toBe(0);
    }
    for (const r of ok) expect(r.headers.get('ratelimit-policy')).toBe('"concurrency";q=2;qu="concurrent-requests"');
    expect(await originCalls(scenario)).toHaveLength(2);

    // both finished and gave their slots back
    const after = await call('POST', GEN, { key: tk.key, env, json: genBody(unique('conc')) });
    expect(after.status, after.text()).toBe(200);
    expect(rateLimitState(after, 'concurrency').r).toBe(1);
    expect(await originCalls(scenario)).toHaveLength(3);
  });

  it('a tenant in-flight limit covers all its keys, and a refused request is not charged', async () => {
    const scenario = unique('tconc');
    const env = envWith([testOrigin(scenario, 'slow-1500')]);
    const a = await createTenantWithKey({ tenant: { max_concurrent: 1, budget_usd: '1', budget_period: 'month' } });
    const b = await addKey(a.tenantId);
    const slow = call('POST', GEN, { key: a.key, env, json: genBody(unique('tconc')) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await call('POST', GEN, { key: b.key, env, json: genBody(unique('tconc')) });
    expectError(refused, 429, 'concurrency_limited');
    expect(refused.json().error.message).toMatch(/^tenant '/);
    expect((await slow).status).toBe(200);
    expect(await originCalls(scenario)).toHaveLength(1);
    // only the request that went to the origin was charged
    const [ca, cb] = [await chargesOf(a), await chargesOf(b)];
    expect(cb.key.spentNano).toBe(0n);
    expect(cb.key.reservedNano).toBe(0n);
    expect(ca.tenant.reservedNano).toBe(0n);
    expect(ca.tenant.spentNano).toBe(ca.key.spentNano);
    expect(await ledger('request_id', refused.json().error.request_id)).toEqual([]);
  });

  it('a request that may be a cache hit and is refused a slot does not use up the rpm', async () => {
    const scenario = unique('defer');
    const env = envWith([testOrigin(scenario, 'slow-1500')]);
    const tk = await createTenantWithKey({ key: { max_concurrent: 1, rate_limit_rpm: 2 } });
    const holder = call('POST', GEN, { key: tk.key, env, json: genBody(unique('defer'), { seed: 11 }) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // a seeded miss is admitted provisionally (it might have been a hit), then refused a slot
    const refused = await call('POST', GEN, { key: tk.key, env, json: genBody(unique('defer'), { seed: 12 }) });
    expectError(refused, 429, 'concurrency_limited');
    expect((await holder).status).toBe(200);
    // the refusal was withdrawn from the window: one of the two rpm is still free
    const second = await call('POST', GEN, { key: tk.key, env, json: genBody(unique('defer'), { seed: 13 }) });
    expect(second.status, second.text()).toBe(200);
    expect(rateLimitState(second, 'rpm').r).toBe(0);
  });

  it('a cache hit needs no in-flight slot: it is served while the only slot is taken', async () => {
    const scenario = unique('hitslot');
    const env = envWith([testOrigin(scenario, 'slow-1500')]);
    const tk = await createTenantWithKey({ key: { max_concurrent: 1 } });
    const cached = genBody(unique('hitslot'), { seed: 77 });
    expect((await call('POST', GEN, { key: tk.key, env, json: cached })).status).toBe(200);

    const slow = call('POST', GEN, { key: tk.key, env, json: genBody(unique('hitslot')) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const hit = await call('POST', GEN, { key: tk.key, env, json: cached });
    expect(hit.status, hit.text()).toBe(200);
    expect(hit.headers.get('cache-status')).toBe('imagegate; hit');
    // …while a miss is still refused
    expectError(await call('POST', GEN, { key: tk.key, env, json: genBody(unique('hitslot')) }), 429, 'concurrency_limited');
    expect((await slow).status).toBe(200);
    expect(await originCalls(scenario)).toHaveLength(2);
  });
});
