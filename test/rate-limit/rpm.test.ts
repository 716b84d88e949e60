import { describe, expect, it } from 'vitest';
import { appWithClock, call, genBody, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNoCharge, ledger } from '../helpers/money';
import { addKey, createTenantWithKey } from '../helpers/tenants';
import { rateLimitState, retryAfterOf } from './support';

const GEN = '/image/generation';

describe('rate_limit_rpm through the gateway (docs/rate-limits.md)', () => {
  it('admits five in a minute, refuses the sixth with Retry-After and RateLimit, and admits again at the advertised time', async () => {
    const t0 = Date.now();
    let t = t0;
    const app = appWithClock(() => t);
    const tk = await createTenantWithKey({ key: { rate_limit_rpm: 5 } });

    for (let i = 0; i < 5; i++) {
      t = t0 + i * 1000;
      const r = await call('POST', GEN, { key: tk.key, app, json: genBody(unique('rpm')) });
      expect(r.status, r.text()).toBe(200);
      expect(r.headers.get('ratelimit-policy')).toBe('"rpm";q=5;w=60');
      // the oldest admission (t0) leaves the window 60 s after t0
      expect(r.headers.get('ratelimit')).toBe(`"rpm";r=${4 - i};t=${60 - i}`);
    }

    t = t0 + 5000;
    const refused = await expectNoCharge(tk, () => call('POST', GEN, { key: tk.key, app, json: genBody(unique('rpm')) }));
    expectError(refused, 429, 'rate_limited');
    const retryAfter = retryAfterOf(refused);
    expect(retryAfter).toBe(55);
    expect(refused.headers.get('ratelimit-policy')).toBe('"rpm";q=5;w=60');
    expect(rateLimitState(refused, 'rpm')).toEqual({ r: 0, t: 55 });
    const message = refused.json().error.message as string;
    expect(message).toContain('5 requests per minute');
    expect(message).toMatch(/^key '/);
    // refused before the cache, the budget and the origin: nothing reserved, spent or recorded
    expect(await ledger('request_id', refused.json().error.request_id)).toEqual([]);

    // one second before the advertised time it is still refused, at it the request passes
    t = t0 + 5000 + (retryAfter - 1) * 1000;
    expectError(await call('POST', GEN, { key: tk.key, app, json: genBody(unique('rpm')) }), 429, 'rate_limited');
    t = t0 + 5000 + retryAfter * 1000;
    const again = await call('POST', GEN, { key: tk.key, app, json: genBody(unique('rpm')) });
    expect(again.status, again.text()).toBe(200);
    expect(rateLimitState(again, 'rpm').r).toBe(0);

    // the refusals did not use up the window: the next slot opens when t0 + 1 s slides out
    const next = await call('POST', GEN, { key: tk.key, app, json: genBody(unique('rpm')) });
    expectError(next, 429, 'rate_limited');
    expect(retryAfterOf(next)).toBe(1);
    t += 1000;
    expect((await call('POST', GEN, { key: tk.key, app, json: genBody(unique('rpm')) })).status).toBe(200);
  });

  it('is a sliding window, not a calendar minute: a burst at the end of one minute does not buy a second burst', async () => {
    // 23:59:50 .. 00:00:10 crosses a minute boundary; a calendar-minute counter would admit 2 × 3 here
    const boundary = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
    let t = boundary - 10_000;
    const app = appWithClock(() => t);
    const tk = await createTenantWithKey({ key: { rate_limit_rpm: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await call('POST', GEN, { key: tk.key, app, json: genBody(unique('slide')) })).status);
      t += 4_000;
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
  });

  it('applies a tenant limit across all its keys, and names the tenant in the refusal', async () => {
    let t = Date.now();
    const app = appWithClock(() => t);
    const a = await createTenantWithKey({ tenant: { rate_limit_rpm: 3 }, key: { rate_limit_rpm: 10 } });
    const b = await addKey(a.tenantId);

    const first = await call('POST', GEN, { key: a.key, app, json: genBody(unique('tenant')) });
    expect(first.status).toBe(200);
    // the key allows 10, the tenant 3: the tighter (tenant) policy is the one advertised
    expect(first.headers.get('ratelimit-policy')).toBe('"rpm";q=3;w=60');
    expect(rateLimitState(first, 'rpm').r).toBe(2);
    t += 100;
    expect((await call('POST', GEN, { key: b.key, app, json: genBody(unique('tenant')) })).status).toBe(200);
    t += 100;
    const third = await call('POST', GEN, { key: b.key, app, json: genBody(unique('tenant')) });
    expect(third.status).toBe(200);
    expect(rateLimitState(third, 'rpm').r).toBe(0);
    t += 100;

    for (const key of [a.key, b.key]) {
      const r = await call('POST', GEN, { key, app, json: genBody(unique('tenant')) });
      expectError(r, 429, 'rate_limited');
      expect(r.json().error.message).toMatch(/^tenant '.*' is limited to 3 requests per minute/);
      expect(retryAfterOf(r)).toBe(60);
    }
    // a new key of the same tenant is limited just the same
    const c = await addKey(a.tenantId);
    expectError(await call('POST', GEN, { key: c.key, app, json: genBody(unique('tenant')) }), 429, 'rate_limited');
  });

  it('keeps keys apart: one key at its limit does not limit a sibling key', async () => {
    const t = Date.now();
    const app = appWithClock(() => t);
    const a = await createTenantWithKey({ key: { rate_limit_rpm: 1 } });
    const b = await addKey(a.tenantId, { rate_limit_rpm: 1 });
    expect((await call('POST', GEN, { key: a.key, app, json: genBody(unique('keys')) })).status).toBe(200);
    expectError(await call('POST', GEN, { key: a.key, app, json: genBody(unique('keys')) }), 429, 'rate_limited');
    expect((await call('POST', GEN, { key: b.key, app, json: genBody(unique('keys')) })).status).toBe(200);
  });

  it('counts cache hits toward the rpm', async () => {
    const t = Date.now();
    const app = appWithClock(() => t);
    const tk = await createTenantWithKey({ key: { rate_limit_rpm: 2 } });
    const body = genBody(unique('hit'), { seed: 1234 });
    const miss = await call('POST', GEN, { key: tk.key, app, json: body });
    expect(miss.status, miss.text()).toBe(200);
    const hit = await call('POST', GEN, { key: tk.key, app, json: body });
    expect(hit.status, hit.text()).toBe(200);
    expect(hit.headers.get('cache-status')).toBe('imagegate; hit');
    expect(rateLimitState(hit, 'rpm').r).toBe(0);
    expectError(await call('POST', GEN, { key: tk.key, app, json: body }), 429, 'rate_limited');
  });

  it('sends no RateLimit fields when neither the key nor the tenant has a limit', async () => {
    const tk = await createTenantWithKey();
    const r = await call('POST', GEN, { key: tk.key, json: genBody(unique('free')) });
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit-policy')).toBeNull();
    expect(r.headers.get('ratelimit')).toBeNull();
  });
});
