import { describe, expect, it } from 'vitest';
import { call, genBody, loopback, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { as, newPrincipal } from '../admins/http-support';
import { formatUsd } from '../../src/domain/money';
import { labelValue } from '../../src/routes/admin-metrics';

/* docs/console.md, "Metrics": GET /admin/metrics in the Prometheus text format 0.0.4. */

const FAMILIES = [
  ['imagegate_tenant_info', 'gauge'],
  ['imagegate_spend_usd_total', 'counter'],
  ['imagegate_generations_total', 'counter'],
  ['imagegate_budget_remaining_usd', 'gauge'],
  ['imagegate_reservations_open', 'gauge'],
  ['imagegate_saved_usd_total', 'counter'],
] as const;

/** The sample lines of a family for one tenant, as `labels → value`. */
function samples(text: string, name: string, tenantId: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{tenant="${tenantId}"`)) continue;
    const at = line.lastIndexOf(' ');
    found.set(line.slice(name.length, at), line.slice(at + 1));
  }
  return found;
}

describe('GET /admin/metrics', () => {
  it('the exposition format: HELP and TYPE before each family, one sample per line, text/plain; version=0.0.4', async () => {
    await createTenantWithKey();
    const r = await call('GET', '/admin/metrics', { admin: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = r.text();
    expect(text.endsWith('\n')).toBe(true);
    for (const [name, type] of FAMILIES) {
      const help = text.indexOf(`# HELP ${name} `);
      expect(help, name).toBeGreaterThanOrEqual(0);
      expect(text.indexOf(`# TYPE ${name} ${type}\n`)).toBeGreaterThan(help);
    }
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('#')) continue;
      expect(line).toMatch(/^[a-z_]+(\{[a-z_]+="(?:[^"\\\n]|\\.)*"(?:,[a-z_]+="(?:[^"\\\n]|\\.)*")*\})? (\d+(\.\d+)?)$/);
    }
    expect(text).toMatch(/^imagegate_reservations_open \d+$/m);
  });

  it('escapes backslash, double quote and line feed in label values', async () => {
    expect(labelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const name = `say "hi" \\ there\nnext`;
    const t = await createTenantWithKey({ tenant: { name } });
    const text = (await call('GET', '/admin/metrics', { admin: true })).text();
    expect(text).toContain(`imagegate_tenant_info{tenant="${t.tenantId}",name="say \\"hi\\" \\\\ there\\nnext"} 1\n`);
  });

  it('after real generations: spend, generations by cache and status, remaining budget, saved', async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: '1' } });
    const { env: origin } = loopback('metrics');
    const body = genBody(unique('m'), { seed: 3 });
    for (let i = 0; i < 2; i++) expect((await call('POST', '/image/generation', { key: t.key, json: body, env: origin })).status).toBe(200);
    const failing = loopback('metrics-fail', '500');
    expect((await call('POST', '/image/generation', { key: t.key, json: genBody(unique('f')), env: failing.env })).status).toBeGreaterThanOrEqual(500);
    const rows = await ledger('tenant_id', t.tenantId);
    const charged = rows.reduce((n, r) => n + BigInt(r.cost_nano), 0n);
    expect(charged).toBeGreaterThan(0n);
    const failed = rows.find((r) => r.status !== 'ok');
    expect(failed?.status).toBe('origin_error');

    const text = (await call('GET', '/admin/metrics', { admin: true })).text();
    expect(samples(text, 'imagegate_spend_usd_total', t.tenantId).get(`{tenant="${t.tenantId}"}`)).toBe(formatUsd(charged));
    expect(samples(text, 'imagegate_budget_remaining_usd', t.tenantId).get(`{tenant="${t.tenantId}"}`)).toBe(formatUsd(1_000_000_000n - charged));
    expect(samples(text, 'imagegate_saved_usd_total', t.tenantId).get(`{tenant="${t.tenantId}"}`)).toBe(formatUsd(charged));
    const generations = samples(text, 'imagegate_generations_total', t.tenantId);
    expect(Object.fromEntries(generations)).toEqual({
      [`{tenant="${t.tenantId}",cache="hit",status="ok"}`]: '1',
      [`{tenant="${t.tenantId}",cache="miss",status="ok"}`]: '1',
      [`{tenant="${t.tenantId}",cache="${failed?.cache}",status="origin_error"}`]: '1',
    });
  });

  it('a tenant without a budget has no remaining-budget sample', async () => {
    const t = await createTenantWithKey();
    const text = (await call('GET', '/admin/metrics', { admin: true })).text();
    expect(text).toContain(`imagegate_spend_usd_total{tenant="${t.tenantId}"} 0\n`);
    expect(text).not.toContain(`imagegate_budget_remaining_usd{tenant="${t.tenantId}"}`);
  });

  it('a viewer may read it; a tenant admin is refused (403), whoever its tenant', async () => {
    const t = await createTenantWithKey();
    const viewer = await newPrincipal('viewer');
    expect((await as(viewer.token, 'GET', '/admin/metrics')).status).toBe(200);
    const tenantAdmin = await newPrincipal('tenant_admin', t.tenantId);
    expectError(await as(tenantAdmin.token, 'GET', '/admin/metrics'), 403, 'forbidden');
    expectError(await call('GET', '/admin/metrics'), 401, 'unauthorized');
  });
});
