import { describe, expect, it } from 'vitest';
import { appWithClock, call, genBody, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { addKey, createTenantWithKey } from '../helpers/tenants';
import { rateLimitState, retryAfterOf } from '../rate-limit/support';

/* docs/rate-limits.md: only generations count; a sliding 60 s window to the millisecond; both scopes. */
const GEN = '/image/generation';

describe('audit docs/rate-limits.md: rate limits', () => {
  it('only generation requests count toward rate_limit_rpm', async () => {
    const tk = await createTenantWithKey({ tenant: { rate_limit_rpm: 1 }, key: { rate_limit_rpm: 1 } });
    for (let i = 0; i < 3; i++) {
      expect((await call('POST', '/v1/estimate', { key: tk.key, json: genBody(unique('est')) })).status).toBe(200);
      expect((await call('GET', '/v1/usage', { key: tk.key })).status).toBe(200);
      expect((await call('GET', '/v1/images/img_nothing', { key: tk.key })).status).toBe(404);
      // a request refused before it is a generation (400) does not count either
      expect((await call('POST', GEN, { key: tk.key, json: { prompt: 'x', steps: 0 } })).status).toBe(400);
    }
    expect((await call('POST', GEN, { key: tk.key, json: genBody(unique('gen')) })).status).toBe(200);
    expectError(await call('POST', GEN, { key: tk.key, json: genBody(unique('gen')) }), 429, 'rate_limited');
  });

  it('the window slides by the millisecond: 59.999 s after the admission is refused (Retry-After 1), 60 s is admitted', async () => {
    const t0 = Date.UTC(2031, 0, 1, 12, 0, 30, 250);
    let t = t0;
    const app = appWithClock(() => t);
    const tk = await createTenantWithKey({ key: { rate_limit_rpm: 1 } });
    expect((await call('POST', GEN, { key: tk.key, app, json: genBody(unique('w')) })).status).toBe(200);
    t = t0 + 59_999;
    const refused = await call('POST', GEN, { key: tk.key, app, json: genBody(unique('w')) });
    expectError(refused, 429, 'rate_limited');
    expect(retryAfterOf(refused)).toBe(1);
    expect(refused.headers.get('ratelimit-policy')).toBe('"rpm";q=1;w=60');
    expect(rateLimitState(refused, 'rpm')).toEqual({ r: 0, t: 1 });
    t = t0 + 60_000;
    const admitted = await call('POST', GEN, { key: tk.key, app, json: genBody(unique('w')) });
    expect(admitted.status, admitted.text()).toBe(200);
    expect(rateLimitState(admitted, 'rpm')).toEqual({ r: 0, t: 60 });
  });

  it('a tenant limit refuses a key that still has room, without using up the key', async () => {
    let t = Date.UTC(2031, 1, 1, 8);
    const app = appWithClock(() => t);
    const a = await createTenantWithKey({ tenant: { rate_limit_rpm: 2 }, key: { rate_limit_rpm: 5 } });
    const b = await addKey(a.tenantId, { rate_limit_rpm: 1 });
    expect((await call('POST', GEN, { key: a.key, app, json: genBody(unique('s')) })).status).toBe(200);
    expect((await call('POST', GEN, { key: a.key, app, json: genBody(unique('s')) })).status).toBe(200);
    t += 1_000;
    const refused = await call('POST', GEN, { key: b.key, app, json: genBody(unique('s')) });
    expectError(refused, 429, 'rate_limited');
    expect(refused.json().error.message).toMatch(/^tenant '/);
    expect(retryAfterOf(refused)).toBe(59);
    // once the tenant's window slides, key b still has its own one request
    t += 59_000;
    expect((await call('POST', GEN, { key: b.key, app, json: genBody(unique('s')) })).status).toBe(200);
  });
});
