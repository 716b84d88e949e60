import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, genBody, loopback, unique } from '../helpers/api';
import { expectNothingCharged, ledger } from '../helpers/money';
import { formatUsd } from '../../src/domain/money';
import { castOfRoles, changingForms, countRows, lastAudit, page, signIn, type RoleCast } from './support';

/* docs/console.md: every change goes through the admin API, with its roles and audit; what each role sees. */

let cast: RoleCast;
beforeAll(async () => {
  cast = await castOfRoles({ budget_usd: '10' });
});

describe('changes made in the console', () => {
  it('create a tenant, change its budget, create, rotate and revoke a key: each an audit entry whose actor is the principal', async () => {
    const cookie = await signIn(cast.admin.token);
    const name = unique('made-here');
    const created = await page('POST', '/console/tenants', { cookie, form: { name, budget_usd: '25', budget_period: 'month', rate_limit_rpm: '', max_concurrent: '' } });
    expect(created.status).toBe(303);
    const tenantPath = created.headers.get('location')?.split('?')[0] ?? '';
    const tenantId = decodeURIComponent(tenantPath.split('/').pop() ?? '');
    expect(await lastAudit('tenant.create')).toMatchObject({ actor_id: cast.admin.id, actor_role: 'admin', target_id: tenantId });

    const changed = await page('POST', tenantPath, { cookie, form: { name, budget_usd: '40', budget_period: 'month', rate_limit_rpm: '120', max_concurrent: 'none' } });
    expect(changed.status).toBe(303);
    expect((await call('GET', `/admin/tenants/${tenantId}`, { admin: true })).json()).toMatchObject({ budget_usd: '40', rate_limit_rpm: 120, max_concurrent: null });
    expect(await lastAudit('tenant.update')).toMatchObject({ actor_id: cast.admin.id, target_id: tenantId });

    const keyPage = await page('POST', `${tenantPath}/keys`, { cookie, form: { name: 'ci', budget_usd: '', budget_period: 'month' } });
    expect(keyPage.status).toBe(200);
    const plaintext = /<code id="new-key">(igk_[0-9A-Za-z]+)<\/code>/.exec(keyPage.html)?.[1];
    expect(plaintext).toBeDefined();
    expect(keyPage.html).toContain('data-copy="new-key"');
    const key = await lastAudit('key.create');
    expect(key?.actor_id).toBe(cast.admin.id);
    // the plaintext is shown once: the tenant page does not show it again
    expect((await page('GET', tenantPath, { cookie })).html).not.toContain(plaintext ?? 'x');
    // and it works
    const { env: origin } = loopback('console-key');
    expect((await call('POST', '/image/generation', { key: plaintext ?? '', json: genBody(unique('k')), env: origin })).status).toBe(200);

    const rotated = await page('POST', `/console/keys/${key?.target_id}/rotate`, { cookie, form: { grace_seconds: '60' } });
    expect(rotated.status).toBe(200);
    expect(rotated.html).toMatch(/<code id="new-key">igk_/);
    expect(rotated.html).toContain('keeps working until');
    expect(await lastAudit('key.rotate')).toMatchObject({ actor_id: cast.admin.id, target_id: key?.target_id });

    const revoked = await page('POST', `/console/keys/${key?.target_id}/revoke`, { cookie });
    expect(revoked.status).toBe(303);
    expect(revoked.headers.get('location')).toBe(`${tenantPath}?done=revoked`);
    expect(await lastAudit('key.revoke')).toMatchObject({ actor_id: cast.admin.id, target_id: key?.target_id });
    expect((await call('GET', `/admin/keys/${key?.target_id}`, { admin: true })).json().revoked).toBe(true);
  });

  it("a change the admin API refuses shows the admin API's message in the form, with its status, and changes nothing", async () => {
    const cookie = await signIn(cast.admin.token);
    const tenants = await countRows('tenants');
    const bad = await page('POST', '/console/tenants', { cookie, form: { name: unique('bad'), budget_usd: 'lots' } });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('role="alert"');
    expect(bad.html).toContain('<code>budget_usd</code>');
    expect(await countRows('tenants')).toBe(tenants);

    const before = (await call('GET', `/admin/tenants/${cast.own.tenantId}`, { admin: true })).json();
    const patch = await page('POST', `/console/tenants/${cast.own.tenantId}`, { cookie, form: { rate_limit_rpm: '-3' } });
    expect(patch.status).toBe(400);
    expect(patch.html).toContain('<code>rate_limit_rpm</code>');
    expect((await call('GET', `/admin/tenants/${cast.own.tenantId}`, { admin: true })).json()).toEqual(before);
    await expectNothingCharged(cast.own);
  });

  it("a viewer's changes are refused by the admin API's policy (403), and the audit log has no entry for them", async () => {
    const cookie = await signIn(cast.viewer.token);
    const audits = await countRows('audit_log');
    const r = await page('POST', '/console/tenants', { cookie, form: { name: unique('viewer') } });
    expect(r.status).toBe(403);
    expect(r.html).toContain('forbidden');
    expect((await page('POST', `/console/keys/${cast.own.keyId}/revoke`, { cookie })).status).toBe(403);
    expect((await call('GET', `/admin/keys/${cast.own.keyId}`, { admin: true })).json().revoked).toBe(false);
    expect(await countRows('audit_log')).toBe(audits);
  });
});

describe('what each role sees', () => {
  it('a viewer sees every page but no form that changes data', async () => {
    const cookie = await signIn(cast.viewer.token);
    for (const path of ['/console', '/console/tenants', `/console/tenants/${cast.own.tenantId}`, '/console/models', '/console/audit']) {
      const r = await page('GET', path, { cookie });
      expect(r.status, path).toBe(200);
      expect(changingForms(r.html), path).toEqual([]);
    }
    // an owner's pages do have them, so the check above can fail
    const ownerCookie = await signIn();
    expect(changingForms((await page('GET', `/console/tenants/${cast.own.tenantId}`, { cookie: ownerCookie })).html).length).toBeGreaterThan(2);
    expect(changingForms((await page('GET', '/console/tenants', { cookie: ownerCookie })).html)).toEqual(['/console/tenants']);
  });

  it("a tenant admin sees only its tenant: another's page is 404, lists and the overview hold its own only", async () => {
    const cookie = await signIn(cast.tenantAdmin.token);
    const mine = await page('GET', `/console/tenants/${cast.own.tenantId}`, { cookie });
    expect(mine.status).toBe(200);
    // it manages its keys, but may not change its tenant's budget
    expect(changingForms(mine.html)).toContain(`/console/tenants/${cast.own.tenantId}/keys`);
    expect(changingForms(mine.html)).not.toContain(`/console/tenants/${cast.own.tenantId}`);
    const theirs = await page('GET', `/console/tenants/${cast.other.tenantId}`, { cookie });
    expect(theirs.status).toBe(404);
    expect(theirs.html).not.toContain(cast.other.tenantId.slice(4));
    expect((await page('POST', `/console/keys/${cast.other.keyId}/revoke`, { cookie })).status).toBe(404);
    expect((await call('GET', `/admin/keys/${cast.other.keyId}`, { admin: true })).json().revoked).toBe(false);
    for (const path of ['/console', '/console/tenants']) {
      const r = await page('GET', path, { cookie });
      expect(r.html, path).toContain(cast.own.tenantId);
      expect(r.html, path).not.toContain(cast.other.tenantId);
    }
    const csv = await page('GET', `/console/usage.csv?tenant_id=${cast.other.tenantId}&group_by=key`, { cookie });
    expect(csv.status).toBe(404);
    // models are outside any tenant: no nav entry, and the page says why
    expect((await page('GET', '/console', { cookie })).html).not.toContain('href="/console/models"');
    expect((await page('GET', '/console/models', { cookie })).status).toBe(403);
  });

  it('usage tables download as the admin API CSV, scoped as the report is', async () => {
    const cookie = await signIn();
    const { env: origin } = loopback('console-csv');
    expect((await call('POST', '/image/generation', { key: cast.own.key, json: genBody(unique('csv')), env: origin })).status).toBe(200);
    const r = await page('GET', `/console/usage.csv?tenant_id=${cast.own.tenantId}&group_by=key`, { cookie });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.html.split('\r\n')[0]).toBe('group,requests,cache_hits,failed,cost_usd,coalesced,saved_usd');
    const [row] = await ledger('key_id', cast.own.keyId);
    expect(r.html).toContain(`${cast.own.keyId},1,0,0,${formatUsd(BigInt(row?.cost_nano ?? -1))},0,0`);
    expect(r.html).not.toContain(cast.other.keyId);
  });
});
