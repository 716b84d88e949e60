import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors';
import { call, envWith, genBody, loopback, originCalls, scriptOrigin, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { BIG, budgetState, expectBooksBalanced, ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** docs/money.md: a request that fails costs 0, and its reservation is given back at once. */
describe('origin failures charge nothing', () => {
  const cases: { mode: string; status: number; code: ErrorCode; extra?: Record<string, unknown> }[] = [
    { mode: '500', status: 502, code: 'origin_error' },
    { mode: '503', status: 502, code: 'origin_error' },
    { mode: 'hang', status: 504, code: 'origin_timeout', extra: { timeout_ms: 300 } },
    { mode: 'garbage', status: 502, code: 'origin_error' },
    { mode: 'json-garbage', status: 502, code: 'origin_error' },
    { mode: '400', status: 400, code: 'invalid_request' },
  ];

  for (const { mode, status, code, extra } of cases) {
    it(`origin answers ${mode}: ${status} ${code}, nothing charged, nothing reserved`, async () => {
      const { key, keyId, tenantId } = await createTenantWithKey({ tenant: { budget_usd: '0.01' }, key: { budget_usd: '0.005' } });
      const scenario = unique(`fail-${mode}`);
      const e = envWith([testOrigin(scenario, mode, extra)]);
      const r = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 11 }) });
      expectError(r, status, code);
      expect(await originCalls(scenario)).toHaveLength(1);
      const k = await budgetState('key', keyId);
      expect(k.spentNano).toBe(0n);
      expect(k.reservedNano).toBe(0n);
      expect((await budgetState('tenant', tenantId)).reservedNano).toBe(0n);
      const rows = await ledger('key_id', keyId);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ cost_nano: 0, status: code, width: 1024, height: 1024, steps: 30 });
      await expectBooksBalanced([keyId], tenantId);
    });
  }

  it('every origin of a chain failing charges nothing; the next request that succeeds is charged once', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '0.002' } });
    const scenario = unique('chain');
    const e = envWith([testOrigin(scenario, '500'), testOrigin(`${scenario}b`, 'garbage')]);
    const r = await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 1 }) });
    expect(r.status).toBe(502);
    expect((await budgetState('key', keyId)).spentNano).toBe(0n);
    // the budget only fits one image: had the failure kept its reservation, this would be a 402
    const ok = await call('POST', '/image/generation', { key, env: envWith([testOrigin(`${scenario}c`, 'png')]), json: genBody(scenario, { ...BIG, seed: 2 }) });
    expect(ok.status, ok.text()).toBe(200);
    expect((await budgetState('key', keyId)).spentNano).toBe(1_992_295n);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('a failure in a burst gives its share back: budget for 2, origin fails every other call', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '0.00398459' } });
    const { scenario, env: e } = loopback('flaky');
    const { scriptOrigin } = await import('../helpers/api');
    await scriptOrigin(scenario, ['500', 'png', '500', 'png']);
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 100 + i }) })).status);
    }
    expect(results).toEqual([502, 200, 502, 200]);
    expect((await budgetState('key', keyId)).spentNano).toBe(2n * 1_992_295n);
    expect((await call('POST', '/image/generation', { key, env: e, json: genBody(scenario, { ...BIG, seed: 200 }) })).status).toBe(402);
    await expectBooksBalanced([keyId], tenantId);
  });
});
