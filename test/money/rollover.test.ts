import { describe, expect, it } from 'vitest';
import { appWithClock, call, genBody, loopback } from '../helpers/api';
import { BIG, budgetState, IMAGE_NANO, ledgerSum } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** docs/money.md: budgets are UTC calendar periods; a new period starts from 0 without any cron run. */
describe('period rollover with an injected clock', () => {
  it('a monthly key budget starts again from 0 in the next month', async () => {
    let now = Date.UTC(2032, 0, 31, 23, 59, 0); // Sat 31 Jan 2032
    const app = appWithClock(() => now);
    const { key, keyId } = await createTenantWithKey({ key: { budget_usd: '0.00398459', budget_period: 'month' } });
    const { scenario, env: e } = loopback('rollover-month');
    const gen = (seed: number) => call('POST', '/image/generation', { app, key, env: e, json: genBody(scenario, { ...BIG, seed }) });
    expect((await gen(1)).status).toBe(200);
    expect((await gen(2)).status).toBe(200);
    const refused = await gen(3);
    expect(refused.status).toBe(402);
    expect(refused.json().error.message).toContain('has 0 USD left this month');
    let usage = (await call('GET', '/v1/usage', { app, key })).json();
    expect(usage.key).toMatchObject({ spent_usd: '0.00398459', remaining_usd: '0', period: 'month', period_resets_at: '2032-02-01T00:00:00.000Z', requests: 2 });

    now = Date.UTC(2032, 1, 1, 0, 0, 1); // the next month, one second in
    usage = (await call('GET', '/v1/usage', { app, key })).json();
    expect(usage.key).toMatchObject({ spent_usd: '0', reserved_usd: '0', remaining_usd: '0.00398459', period_resets_at: '2032-03-01T00:00:00.000Z', requests: 0 });
    const fresh = await gen(4);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('imagegate-budget-remaining-usd')).toBe('0.001992295');
    const row = await budgetState('key', keyId);
    expect(row).toMatchObject({ periodKey: 'month:2032-02-01', reservedNano: 0n });
    expect(row.spentNano).toBe(IMAGE_NANO);
    expect(await ledgerSum('key_id', keyId, '2032-02-01')).toBe(IMAGE_NANO);
    expect(await ledgerSum('key_id', keyId)).toBe(3n * IMAGE_NANO);
  });

  it('a daily tenant budget rolls over at UTC midnight, a weekly one on Monday', async () => {
    let now = Date.UTC(2032, 2, 7, 23, 0, 0); // Sunday 7 March 2032
    const app = appWithClock(() => now);
    const daily = await createTenantWithKey({ tenant: { budget_usd: '0.001992295', budget_period: 'day' } });
    const weekly = await createTenantWithKey({ key: { budget_usd: '0.001992295', budget_period: 'week' } });
    const { scenario, env: e } = loopback('rollover-day');
    let seed = 0;
    const gen = (key: string) => call('POST', '/image/generation', { app, key, env: e, json: genBody(scenario, { ...BIG, seed: ++seed }) });
    expect((await gen(daily.key)).status).toBe(200);
    expect((await gen(weekly.key)).status).toBe(200);
    const d = await gen(daily.key);
    expect(d.status).toBe(402);
    expect(d.json().error.message).toMatch(/^tenant '.+' has 0 USD left today;/);
    const w = await gen(weekly.key);
    expect(w.json().error.message).toMatch(/^key '.+' has 0 USD left this week;/);

    now = Date.UTC(2032, 2, 8, 0, 0, 0); // Monday: a new day and a new week
    expect((await gen(daily.key)).status).toBe(200);
    expect((await gen(weekly.key)).status).toBe(200);
    const usage = (await call('GET', '/v1/usage', { app, key: weekly.key })).json();
    expect(usage.key).toMatchObject({ period: 'week', period_resets_at: '2032-03-15T00:00:00.000Z', spent_usd: '0.001992295' });

    now = Date.UTC(2032, 2, 14, 23, 59, 59); // still that week (Sunday)
    expect((await gen(weekly.key)).status).toBe(402);
    expect((await gen(daily.key)).status).toBe(200);
  });
});
