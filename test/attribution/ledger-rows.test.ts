import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { findCallerByKeyHash } from '../../src/storage/tenants';
import { releaseExpired, reserve } from '../../src/storage/reservations';
import { hashKey } from '../../src/domain/keys';
import { call, DEFAULT_MODEL, unique } from '../helpers/api';
import { budgetState } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { tagsOf } from './support';

/** docs/money.md: a reservation carries its price version and tags, so the cron's `expired` row keeps them, and reports count it. */

describe('a reservation whose request died', () => {
  it('expires into a ledger row with its price version, its list cost and its tags', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: '1' } });
    const caller = await findCallerByKeyHash(env.DB, await hashKey(t.key));
    if (!caller) throw new Error('test set-up: no caller');
    const now = Date.now();
    const generationId = unique('req_dead');
    const request = { model: DEFAULT_MODEL, width: 256, height: 256, steps: 30 };
    const item = { generationId, costNano: 124_519n, request, priceVersion: 3, tags: { project: 'checkout' } };
    expect(await reserve(env.DB, caller, [item], now, 1_000)).toEqual({ ok: true });
    expect(await releaseExpired(env.DB, now + 1_000)).toBeGreaterThanOrEqual(1);
    const row = await env.DB.prepare('SELECT status, cost_nano, price_version, list_cost_nano FROM usage_ledger WHERE generation_id = ?')
      .bind(generationId)
      .first();
    expect(row).toEqual({ status: 'expired', cost_nano: 0, price_version: 3, list_cost_nano: 124_519 });
    expect(await tagsOf(generationId)).toEqual({ project: 'checkout' });
    expect(await budgetState('key', t.keyId)).toMatchObject({ spentNano: 0n, reservedNano: 0n });
    const report = (await call('GET', `/admin/usage?tenant_id=${t.tenantId}&group_by=tag:project`, { admin: true })).json();
    expect(report.rows).toEqual([{ group: 'checkout', requests: 1, cache_hits: 0, failed: 1, cost_usd: '0', coalesced: 0, saved_usd: '0' }]);
  });
});
