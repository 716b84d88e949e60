import { beforeAll, describe, expect, it } from 'vitest';
import { call, unique } from '../helpers/api';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';
import { newPrincipal, type Principal } from '../admins/http-support';
import { page, signIn } from './support';

/* docs/console.md: a tenant's and a key's alert thresholds, shown on the tenant page and set by its forms. */

let t: TenantKey;
let admin: Principal;
beforeAll(async () => {
  t = await createTenantWithKey({ tenant: { name: unique('alerts'), budget_usd: '10' } });
  admin = await newPrincipal('admin');
});

const tenantPath = () => `/console/tenants/${encodeURIComponent(t.tenantId)}`;
const stored = async () => (await call('GET', `/admin/tenants/${t.tenantId}`, { admin: true })).json();
const edit = (alerts: string) => ({ name: unique('alerts'), budget_usd: '10', budget_period: 'month', rate_limit_rpm: '', max_concurrent: '', alert_thresholds: alerts });

describe('alert thresholds in the console', () => {
  it("the tenant page shows the tenant's and each key's; the edit form sets them as comma-separated percents", async () => {
    const cookie = await signIn(admin.token);
    const shown = await page('GET', tenantPath(), { cookie });
    expect(shown.html).toContain('alerts at 50%, 80%, 100%');
    expect(shown.html).toContain('name="alert_thresholds" value="50, 80, 100"');

    expect((await page('POST', tenantPath(), { cookie, form: edit('75, 25%') })).status).toBe(303);
    expect((await stored()).alert_thresholds).toEqual([25, 75]);
    expect((await page('GET', tenantPath(), { cookie })).html).toContain('alerts at 25%, 75%');

    expect((await page('POST', tenantPath(), { cookie, form: edit('none') })).status).toBe(303);
    expect((await stored()).alert_thresholds).toEqual([]);
    // empty leaves them as they are
    expect((await page('POST', tenantPath(), { cookie, form: edit('') })).status).toBe(303);
    expect((await stored()).alert_thresholds).toEqual([]);
  });

  it('a value the admin API refuses comes back naming alert_thresholds, and nothing changes', async () => {
    const cookie = await signIn(admin.token);
    expect((await page('POST', tenantPath(), { cookie, form: edit('60') })).status).toBe(303);
    for (const alerts of ['lots', '50, 150', '0']) {
      const r = await page('POST', tenantPath(), { cookie, form: edit(alerts) });
      expect(r.status).toBe(400);
      expect(r.html).toContain('<code>alert_thresholds</code>');
    }
    expect((await stored()).alert_thresholds).toEqual([60]);
  });

  it('a new key takes the thresholds typed in the key form', async () => {
    const cookie = await signIn(admin.token);
    const r = await page('POST', `${tenantPath()}/keys`, { cookie, form: { name: 'alerting', budget_usd: '5', budget_period: 'month', alert_thresholds: '90' } });
    expect(r.status).toBe(200);
    const keys = (await stored()).keys as { name: string; alert_thresholds: number[] }[];
    expect(keys.find((k) => k.name === 'alerting')?.alert_thresholds).toEqual([90]);
    expect(r.html).toMatch(/<th scope="row">alerting<\/th>[\s\S]*?<td>90%<\/td>/);
  });
});
