import { describe, expect, it } from 'vitest';
import { appWithClock, call } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';

/** Audit of docs/generation.md `GET /v1/usage`: period_resets_at at the edges of UTC days, Monday weeks and months. */
describe('GET /v1/usage period_resets_at', () => {
  it.each([
    // [now, key period, tenant period, key resets, tenant resets]
    ['2031-12-31T23:59:59.999Z', 'month', 'week', '2032-01-01T00:00:00.000Z', '2032-01-05T00:00:00.000Z'], // a Wednesday, last ms of the year
    ['2032-01-04T23:59:59.000Z', 'day', 'week', '2032-01-05T00:00:00.000Z', '2032-01-05T00:00:00.000Z'], // a Sunday
    ['2032-01-05T00:00:00.000Z', 'week', 'month', '2032-01-12T00:00:00.000Z', '2032-02-01T00:00:00.000Z'], // a Monday, first ms
    ['2032-02-29T12:00:00.000Z', 'month', 'none', '2032-03-01T00:00:00.000Z', null], // leap day
  ] as const)('at %s: key %s, tenant %s', async (at, keyPeriod, tenantPeriod, keyResets, tenantResets) => {
    const app = appWithClock(() => Date.parse(at));
    const { key } = await createTenantWithKey({ tenant: { budget_usd: '1', budget_period: tenantPeriod }, key: { budget_usd: '1', budget_period: keyPeriod } });
    const r = await call('GET', '/v1/usage', { app, key });
    expect(r.status).toBe(200);
    const body = r.json();
    for (const part of ['key', 'tenant'] as const) {
      for (const field of ['spent_usd', 'reserved_usd', 'budget_usd', 'remaining_usd', 'period', 'period_resets_at', 'requests', 'cache_hits']) {
        expect(body[part], `${part}.${field}`).toHaveProperty(field);
      }
    }
    expect(body.key).toMatchObject({ period: keyPeriod, period_resets_at: keyResets, spent_usd: '0', reserved_usd: '0', budget_usd: '1', remaining_usd: '1', requests: 0, cache_hits: 0 });
    expect(body.tenant).toMatchObject({ period: tenantPeriod, period_resets_at: tenantResets });
  });
});
