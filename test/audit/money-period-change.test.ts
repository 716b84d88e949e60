import { describe, expect, it } from 'vitest';
import { appWithClock, call, envWith, genBody, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { BIG, budgetState, IMAGE_NANO, ledgerSum } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/*
 * docs/money.md: "The sum of the ledger equals what the budgets say was spent" and "for every budget,
 * spent + reserved never exceeds the limit". An admin changing a budget's period (month → day, and
 * back) must not forget what the ledger already holds for the new current period: the same day's
 * images count against a daily budget, and switching back to month must not buy a second month.
 */

const GEN = '/image/generation';
// a fixed clock (a Wednesday at noon, UTC), so no run can cross a day, week or month boundary
const NOW = Date.parse('2026-06-10T12:00:00.000Z');
const app = appWithClock(() => NOW);
const startOfTodayIso = () => '2026-06-10T00:00:00.000Z';

describe('audit docs/money.md: changing budget_period keeps what the ledger says was spent', () => {
  it('key: month → day → month does not reset what was spent today / this month', async () => {
    const scenario = unique('period-change-key');
    const env = envWith([testOrigin(scenario, 'png')]);
    // room for exactly 2 images of 1,992,295 nano
    const tk = await createTenantWithKey({ key: { budget_usd: '0.004', budget_period: 'month' } });
    for (let i = 0; i < 2; i++) {
      const r = await call('POST', GEN, { app, key: tk.key, env, json: genBody(unique('pc'), BIG) });
      expect(r.status, r.text()).toBe(200);
    }
    expectError(await call('POST', GEN, { app, key: tk.key, env, json: genBody(unique('pc'), BIG) }), 402, 'budget_exceeded');

    for (const period of ['day', 'month', 'week', 'none'] as const) {
      const patch = await call('PATCH', `/admin/keys/${tk.keyId}`, { app, admin: true, json: { budget_period: period } });
      expect(patch.status, patch.text()).toBe(200);
      // the two images were charged today, so they belong to this day, week, month and to "in total"
      const usage = await call('GET', '/v1/usage', { app, key: tk.key });
      expect(usage.json().key.spent_usd, period).toBe('0.00398459');
      expect((await budgetState('key', tk.keyId)).spentNano).toBe(await ledgerSum('key_id', tk.keyId, startOfTodayIso()));
      const again = await call('POST', GEN, { app, key: tk.key, env, json: genBody(unique('pc'), BIG) });
      expectError(again, 402, 'budget_exceeded');
    }
    expect((await budgetState('key', tk.keyId)).spentNano).toBe(2n * IMAGE_NANO);
  });

  it('tenant: month → day keeps the day\'s spend', async () => {
    const scenario = unique('period-change-tenant');
    const env = envWith([testOrigin(scenario, 'png')]);
    const tk = await createTenantWithKey({ tenant: { budget_usd: '0.002', budget_period: 'month' } });
    expect((await call('POST', GEN, { app, key: tk.key, env, json: genBody(unique('pc'), BIG) })).status).toBe(200);
    const patch = await call('PATCH', `/admin/tenants/${tk.tenantId}`, { app, admin: true, json: { budget_period: 'day' } });
    expect(patch.status, patch.text()).toBe(200);
    expectError(await call('POST', GEN, { app, key: tk.key, env, json: genBody(unique('pc'), BIG) }), 402, 'budget_exceeded');
    const t = await budgetState('tenant', tk.tenantId);
    expect(t.spentNano).toBe(IMAGE_NANO);
    expect(t.spentNano).toBe(await ledgerSum('tenant_id', tk.tenantId, startOfTodayIso()));
  });
});
