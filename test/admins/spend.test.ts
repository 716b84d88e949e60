import { describe, expect, it } from 'vitest';
import { formatUsd } from '../../src/domain/money';
import { appWithClock, call, genBody, loopback, unique } from '../helpers/api';
import { ledgerSum } from '../helpers/money';
import { addKey, createTenantWithKey } from '../helpers/tenants';

/* docs/admin.md "Spend in the admin views": every tenant and key the admin API returns carries its spend. */

const ZERO = { spent_usd: '0', reserved_usd: '0' };

describe('usage in tenant and key answers', () => {
  it('create answers start at nothing spent, remaining the whole budget (null without one)', async () => {
    const t = await call('POST', '/admin/tenants', { admin: true, json: { name: unique('spend'), budget_usd: '3', budget_period: 'day' } });
    expect(t.json().usage).toMatchObject({ ...ZERO, period: 'day', remaining_usd: '3' });
    expect(t.json().usage.period_resets_at).toMatch(/T00:00:00\.000Z$/);
    const k = await call('POST', `/admin/tenants/${t.json().id}/keys`, { admin: true, json: { name: unique('k'), budget_period: 'none' } });
    expect(k.json().usage).toEqual({ ...ZERO, period: 'none', period_resets_at: null, remaining_usd: null });
  });

  it('after a generation, reads, lists and changes show what the ledger holds for the period', async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: '10' }, key: { budget_usd: '1' } });
    const idle = await addKey(t.tenantId);
    const { env: e } = loopback('spend');
    expect((await call('POST', '/image/generation', { key: t.key, json: genBody(unique('spend')), env: e })).status).toBe(200);
    const spent = await ledgerSum('key_id', t.keyId);
    expect(spent).toBeGreaterThan(0n);
    const key = (await call('GET', `/admin/keys/${t.keyId}`, { admin: true })).json();
    expect(key.usage).toMatchObject({ spent_usd: formatUsd(spent), reserved_usd: '0', remaining_usd: formatUsd(1_000_000_000n - spent), period: 'month' });
    const tenant = (await call('GET', `/admin/tenants/${t.tenantId}`, { admin: true })).json();
    expect(tenant.usage).toMatchObject({ spent_usd: formatUsd(spent), remaining_usd: formatUsd(10_000_000_000n - spent) });
    const byId = Object.fromEntries((tenant.keys as { id: string; usage: unknown }[]).map((k) => [k.id, k.usage]));
    expect(byId[t.keyId]).toEqual(key.usage);
    expect(byId[idle.keyId]).toMatchObject({ ...ZERO, remaining_usd: null });
    const listed = ((await call('GET', '/admin/tenants', { admin: true })).json().data as { id: string; usage: unknown }[]).find((x) => x.id === t.tenantId);
    expect(listed?.usage).toEqual(tenant.usage);
    const changed = (await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { budget_usd: '2' } })).json();
    expect(changed.usage.remaining_usd).toBe(formatUsd(2_000_000_000n - spent));
  });

  it("a new period starts from nothing: next month's clock shows 0 spent", async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: '10' } });
    const { env: e } = loopback('spend');
    expect((await call('POST', '/image/generation', { key: t.key, json: genBody(unique('spend')), env: e })).status).toBe(200);
    const later = appWithClock(() => Date.now() + 40 * 86_400_000);
    const key = (await call('GET', `/admin/keys/${t.keyId}`, { admin: true, app: later })).json();
    expect(key.usage).toMatchObject({ spent_usd: '0', remaining_usd: null });
    const tenant = (await call('GET', `/admin/tenants/${t.tenantId}`, { admin: true, app: later })).json();
    expect(tenant.usage).toMatchObject({ spent_usd: '0', remaining_usd: '10' });
  });
});
