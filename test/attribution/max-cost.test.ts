import { describe, expect, it } from 'vitest';
import { call, genBody, loopback, originCalls } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged, ledger, reservationsOf } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** docs/money.md: `Imagegate-Max-Cost-USD`, a ceiling per request. 256×256 at 30 steps costs 124,519 nano-USD. */

describe('Imagegate-Max-Cost-USD', () => {
  it('refuses a request above the ceiling with 402 max_cost_exceeded naming both amounts: no origin call, nothing reserved', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: '1' } });
    const { scenario, env } = loopback('max-cost');
    const r = await call('POST', '/image/generation', { key: t.key, env, json: genBody(scenario), headers: { 'imagegate-max-cost-usd': '0.000124518' } });
    const message = expectError(r, 402, 'max_cost_exceeded');
    expect(r.json().error.type).toBe('budget_error');
    expect(message).toContain('0.000124519');
    expect(message).toContain('0.000124518');
    const openai = await call('POST', '/v1/images/generations', {
      key: t.key,
      env,
      json: { prompt: `m ${scenario}`, size: '256x256', n: 2 },
      headers: { 'imagegate-max-cost-usd': '0.0002' },
    });
    expect(expectError(openai, 402, 'max_cost_exceeded')).toContain('0.000249038');
    expect(await originCalls(scenario)).toHaveLength(0);
    expect(await reservationsOf(t.keyId)).toBe(0);
    expect(await ledger('key_id', t.keyId)).toHaveLength(0);
    await expectNothingCharged(t);
  });

  it('lets a request at or under the ceiling through', async () => {
    const t = await createTenantWithKey();
    const { scenario, env } = loopback('max-cost-ok');
    const r = await call('POST', '/image/generation', { key: t.key, env, json: genBody(scenario), headers: { 'imagegate-max-cost-usd': '0.000124519' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('imagegate-cost-usd')).toBe('0.000124519');
  });

  it('refuses a malformed value with a 400 naming the header, charging nothing', async () => {
    const t = await createTenantWithKey();
    const { scenario, env } = loopback('max-cost-bad');
    for (const value of ['abc', '-1', '0.0000000001', '1e-3', '']) {
      const r = await call('POST', '/image/generation', { key: t.key, env, json: genBody(scenario), headers: { 'imagegate-max-cost-usd': value } });
      expectError(r, 400, 'invalid_request', { param: 'Imagegate-Max-Cost-USD' });
      const e = await call('POST', '/v1/estimate', { key: t.key, json: genBody(scenario), headers: { 'imagegate-max-cost-usd': value } });
      expectError(e, 400, 'invalid_request', { param: 'Imagegate-Max-Cost-USD' });
    }
    expect(await originCalls(scenario)).toHaveLength(0);
    await expectNothingCharged(t);
  });

  it('on /v1/estimate says whether the request would pass: within_max_cost', async () => {
    const t = await createTenantWithKey();
    const estimate = (max?: string) =>
      call('POST', '/v1/estimate', { key: t.key, json: genBody('estimate'), headers: max === undefined ? {} : { 'imagegate-max-cost-usd': max } });
    expect((await estimate()).json().within_max_cost).toBeNull();
    expect((await estimate('0.000124519')).json().within_max_cost).toBe(true);
    expect((await estimate('0.000124518')).json()).toMatchObject({ cost_usd: '0.000124519', within_max_cost: false });
    await expectNothingCharged(t);
  });
});
