import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, envWith, genBody, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { envWithBrokenLimiter, retryAfterOf } from './support';

const GEN = '/image/generation';

describe('when the rate limiter cannot be reached', () => {
  it('fails closed by default: 503 unavailable, nothing reaches the origin, nothing is charged', async () => {
    const scenario = unique('closed');
    const tk = await createTenantWithKey({ tenant: { budget_usd: '1', budget_period: 'month' }, key: { rate_limit_rpm: 5 } });
    const broken = envWithBrokenLimiter(envWith([testOrigin(scenario, 'png')]));
    const r = await call('POST', GEN, { key: tk.key, env: broken, json: genBody(unique('closed')) });
    expectError(r, 503, 'unavailable');
    expect(retryAfterOf(r)).toBeGreaterThanOrEqual(1);
    expect(r.text()).not.toContain('Durable Object namespace unavailable');
    expect(await originCalls(scenario)).toHaveLength(0);
    await expectNothingCharged(tk);
  });

  it('fails closed for an in-flight limit too, and for RATE_LIMIT_FAILURE_MODE values other than open', async () => {
    const tk = await createTenantWithKey({ tenant: { max_concurrent: 3 } });
    for (const mode of [undefined, 'closed', 'OPENLY']) {
      const broken = envWithBrokenLimiter(env, mode === undefined ? {} : { RATE_LIMIT_FAILURE_MODE: mode });
      expectError(await call('POST', GEN, { key: tk.key, env: broken, json: genBody(unique('closed')) }), 503, 'unavailable');
    }
  });

  it('lets requests through with RATE_LIMIT_FAILURE_MODE=open, without RateLimit fields', async () => {
    const scenario = unique('open');
    const tk = await createTenantWithKey({ key: { rate_limit_rpm: 1, max_concurrent: 1 } });
    const broken = envWithBrokenLimiter(envWith([testOrigin(scenario, 'png')]), { RATE_LIMIT_FAILURE_MODE: 'open' });
    for (let i = 0; i < 2; i++) {
      const r = await call('POST', GEN, { key: tk.key, env: broken, json: genBody(unique('open')) });
      expect(r.status, r.text()).toBe(200);
      expect(r.headers.get('ratelimit')).toBeNull();
    }
    expect(await originCalls(scenario)).toHaveLength(2);
  });

  it('never calls the limiter for a caller without limits', async () => {
    const tk = await createTenantWithKey();
    const r = await call('POST', GEN, { key: tk.key, env: envWithBrokenLimiter(env), json: genBody(unique('unlimited')) });
    expect(r.status, r.text()).toBe(200);
  });
});
