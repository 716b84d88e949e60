import { describe, expect, it } from 'vitest';
import { call, genBody, loopback } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState, ledger, nanoOfUsd } from '../helpers/money';
import { addKey, createTenantWithKey } from '../helpers/tenants';

/** docs/money.md: what the cache saved, and reports grouped by and filtered on tags. 256×256 at 30 steps lists at 124,519 nano-USD. */

const LIST = 124_519n;

describe('saved_usd and coalesced', () => {
  it('after hits and merged followers equal the list price × their count, to the nano-USD', async () => {
    const t = await createTenantWithKey();
    const { scenario, env } = loopback('saved', 'slow-800');
    const merged = await Promise.all(
      Array.from({ length: 6 }, () => call('POST', '/image/generation', { key: t.key, env, json: genBody(scenario, { seed: 11 }) })),
    );
    expect(merged.every((r) => r.status === 200)).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect((await call('POST', '/image/generation', { key: t.key, env, json: genBody(scenario, { seed: 11 }) })).headers.get('cache-status')).toBe(
        'imagegate; hit',
      );
    }
    const rows = await ledger('key_id', t.keyId);
    const coalesced = rows.filter((r) => r.cache === 'coalesced').length;
    const hits = rows.filter((r) => r.cache === 'hit').length;
    expect(coalesced).toBeGreaterThanOrEqual(1);
    expect(coalesced + hits).toBe(8);

    const own = (await call('GET', '/v1/usage', { key: t.key })).json();
    expect(own.key).toMatchObject({ requests: 9, cache_hits: 8, coalesced });
    expect(nanoOfUsd(own.key.saved_usd)).toBe(LIST * 8n);
    expect(nanoOfUsd(own.tenant.saved_usd)).toBe(LIST * 8n);

    const report = (await call('GET', `/admin/usage?tenant_id=${t.tenantId}&group_by=tenant`, { admin: true })).json();
    expect(report.total).toEqual({ requests: 9, cache_hits: 8, failed: 0, cost_usd: '0.000124519', coalesced, saved_usd: '0.000996152' });
    expect(LIST * 8n).toBe(996_152n);
    const csv = (await call('GET', `/admin/usage?tenant_id=${t.tenantId}&group_by=tenant&format=csv`, { admin: true })).text();
    expect(csv).toBe(`group,requests,cache_hits,failed,cost_usd,coalesced,saved_usd\r\n${t.tenantId},9,8,0,0.000124519,${coalesced},0.000996152\r\n`);
  });
});

describe('reports by tag', () => {
  it('group_by=tag:<name> puts untagged rows in the group "", tag filters must all match, JSON and CSV, admin and tenant alike', async () => {
    const t = await createTenantWithKey();
    const other = await addKey(t.tenantId, { default_tags: { project: 'search' } });
    const stranger = await createTenantWithKey();
    const { scenario, env } = loopback('by-tag');
    const gen = async (key: string, seed: number, tags?: string) => {
      const r = await call('POST', '/image/generation', { key, env, json: genBody(scenario, { seed }), headers: tags ? { 'imagegate-tags': tags } : {} });
      expect(r.status).toBe(200);
    };
    await gen(t.key, 1, 'project=checkout, feature=thumbs');
    await gen(t.key, 2, 'project=checkout, feature=hero');
    await gen(t.key, 3);
    await gen(other.key, 4);
    await gen(other.key, 1, 'project=checkout, feature=thumbs'); // a hit: free, but tagged
    await gen(stranger.key, 5, 'project=checkout');

    const admin = (await call('GET', `/admin/usage?tenant_id=${t.tenantId}&group_by=tag:project`, { admin: true })).json();
    expect(admin.rows.map((r: { group: string; requests: number; cost_usd: string }) => [r.group, r.requests, r.cost_usd])).toEqual([
      ['', 1, '0.000124519'],
      ['checkout', 3, '0.000249038'],
      ['search', 1, '0.000124519'],
    ]);
    const spent = (await budgetState('tenant', t.tenantId)).spentNano;
    expect(admin.rows.reduce((s: bigint, r: { cost_usd: string }) => s + nanoOfUsd(r.cost_usd), 0n)).toBe(spent);
    expect(admin.rows[1]).toMatchObject({ cache_hits: 1, saved_usd: '0.000124519' });

    const filtered = (
      await call('GET', `/admin/usage?tenant_id=${t.tenantId}&group_by=tag:feature&tag=project:checkout&tag=feature:thumbs`, { admin: true })
    ).json();
    expect(filtered.rows).toEqual([{ group: 'thumbs', requests: 2, cache_hits: 1, failed: 0, cost_usd: '0.000124519', coalesced: 0, saved_usd: '0.000124519' }]);
    const everyone = (await call('GET', '/admin/usage?group_by=tenant&tag=project:checkout', { admin: true })).json();
    expect(everyone.rows.map((r: { group: string }) => r.group)).toEqual(expect.arrayContaining([t.tenantId, stranger.tenantId]));

    const mine = await call('GET', '/v1/usage?group_by=tag:project&format=csv', { key: t.key });
    expect(mine.text()).toBe(
      'group,requests,cache_hits,failed,cost_usd,coalesced,saved_usd\r\n,1,0,0,0.000124519,0,0\r\ncheckout,3,1,0,0.000249038,0,0.000124519\r\nsearch,1,0,0,0.000124519,0,0\r\n',
    );
    const mineFiltered = (await call('GET', '/v1/usage?tag=project:checkout', { key: t.key })).json();
    expect(mineFiltered.total).toMatchObject({ requests: 3, cost_usd: '0.000249038' });
  });

  it('refuses a malformed group_by or tag filter with a 400 naming it; a tenant cannot group by tenant', async () => {
    const t = await createTenantWithKey();
    expectError(await call('GET', '/admin/usage?group_by=tag:Bad', { admin: true }), 400, 'invalid_request', { param: 'group_by' });
    expectError(await call('GET', '/admin/usage?tag=project', { admin: true }), 400, 'invalid_request', { param: 'tag' });
    expectError(await call('GET', '/admin/usage?tag=project:a%3Db', { admin: true }), 400, 'invalid_request', { param: 'tag' });
    expectError(await call('GET', '/v1/usage?group_by=tenant', { key: t.key }), 400, 'invalid_request', { param: 'group_by' });
    expectError(await call('GET', '/v1/usage?tag=:x', { key: t.key }), 400, 'invalid_request', { param: 'tag' });
  });
});
