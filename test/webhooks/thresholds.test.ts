import { describe, expect, it } from 'vitest';
import { formatUsd } from '../../src/domain/money';
import { call, clockedApp, genBody, loopback, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { BIG, budgetState, IMAGE_NANO, ledger } from '../helpers/money';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';
import { budgetEventsOf, crossed, eventsOf, recordingQueue, tenantEndpoint } from './outbox-rows';

/** 256×256 at 30 steps with the seed price row: ceil(65,536 × 1,900,000 / 1,000,000) nano-USD. */
const SMALL_NANO = 124_519n;

async function generate(t: TenantKey, e: TestEnv, scenario: string, seed: number, size = BIG, app?: ReturnType<typeof clockedApp>['app']) {
  return call('POST', '/image/generation', { key: t.key, env: e, app, json: genBody(scenario, { ...size, seed }) });
}

describe('budget.threshold: crossings found where spend moves (docs/webhooks.md)', () => {
  it('a burst of 30 concurrent generations crossing 50 % and 80 % at once records exactly one event per threshold and scope', async () => {
    // 0.005 USD: one big image is 39.8 %; of 30 small ones only 24 fit, ending at 99.6 %
    const budget = { budget_usd: '0.005' };
    const t = await createTenantWithKey({ tenant: budget, key: budget });
    const { scenario, env: base } = loopback('burst-thresholds');
    const { queue, sent } = recordingQueue();
    const e = { ...base, WEBHOOK_QUEUE: queue } as TestEnv;
    const endpoint = await tenantEndpoint(t.tenantId);
    expect((await generate(t, e, scenario, 1)).status).toBe(200);
    expect(await budgetEventsOf(t.tenantId)).toEqual([]);

    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => generate(t, e, scenario, 100 + i, { width: 256, height: 256, steps: 30 })));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(24);
    for (const r of answers.filter((a) => a.status !== 200)) expectError(r, 402, 'budget_exceeded');
    const spent = IMAGE_NANO + 24n * SMALL_NANO;
    expect((await budgetState('key', t.keyId)).spentNano).toBe(spent);

    expect(await crossed(t.tenantId, 'key')).toEqual([50, 80]);
    expect(await crossed(t.tenantId, 'tenant')).toEqual([50, 80]);
    const thresholds = await eventsOf(t.tenantId, 'budget.threshold');
    for (const row of thresholds) {
      const pct = BigInt(row.data.threshold_percent as number);
      const spentThen = BigInt(Math.round(Number(row.data.spent_usd) * 1e9));
      // the settle that crossed it: at or past the threshold, by less than one image
      expect(spentThen * 100n >= pct * 5_000_000n).toBe(true);
      expect((spentThen - SMALL_NANO) * 100n < pct * 5_000_000n).toBe(true);
      expect(row.enqueued_at).not.toBeNull();
    }
    // every event reached the queue, once, for the tenant's endpoint
    const all = await budgetEventsOf(t.tenantId);
    expect(sent.filter((m) => m.webhookId === endpoint).map((m) => m.eventId).sort()).toEqual(all.map((r) => r.id).sort());
  });

  it("an event's data: scope, ids, name, threshold, budget and spend as USD strings, period and when it resets", async () => {
    const t = await createTenantWithKey({ key: { budget_usd: formatUsd(2n * IMAGE_NANO), alert_thresholds: [50], budget_period: 'week' } });
    const { scenario, env: e } = loopback('threshold-data');
    expect((await generate(t, e, scenario, 1)).status).toBe(200);
    const [row, ...more] = await eventsOf(t.tenantId, 'budget.threshold');
    expect(more).toEqual([]);
    const key = (await call('GET', `/admin/keys/${t.keyId}`, { admin: true })).json();
    expect(row?.data).toEqual({
      scope: 'key',
      tenant_id: t.tenantId,
      key_id: t.keyId,
      name: key.name,
      threshold_percent: 50,
      budget_usd: formatUsd(2n * IMAGE_NANO),
      spent_usd: formatUsd(IMAGE_NANO),
      period: 'week',
      period_resets_at: key.usage.period_resets_at,
    });
    expect(row?.id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(row?.once_key).toBe(`threshold:key:${t.keyId}:${(await budgetState('key', t.keyId)).periodKey}:50`);
    expect(Math.abs((row?.occurred_at ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it('a new period fires the same threshold again; the rollover itself fires nothing', async () => {
    const { clock, app } = clockedApp(Date.parse('2031-03-30T10:00:00.000Z'));
    const t = await createTenantWithKey({ key: { budget_usd: formatUsd(2n * IMAGE_NANO), budget_period: 'month' } });
    const { scenario, env: e } = loopback('threshold-rollover');
    expect((await generate(t, e, scenario, 1, BIG, app)).status).toBe(200);
    expect(await crossed(t.tenantId, 'key')).toEqual([50]);
    clock.now = Date.parse('2031-04-01T00:00:01.000Z');
    // a free hit moves nothing; the same seed is cached
    expect((await generate(t, e, scenario, 1, BIG, app)).headers.get('cache-status')).toContain('hit');
    expect(await crossed(t.tenantId, 'key')).toEqual([50]);
    expect((await generate(t, e, scenario, 2, BIG, app)).status).toBe(200);
    const rows = (await eventsOf(t.tenantId, 'budget.threshold')).filter((r) => r.data.scope === 'key');
    expect(rows.map((r) => r.once_key)).toEqual([`threshold:key:${t.keyId}:month:2031-03-01:50`, `threshold:key:${t.keyId}:month:2031-04-01:50`]);
    expect(rows.map((r) => r.data.period_resets_at)).toEqual(['2031-04-01T00:00:00.000Z', '2031-05-01T00:00:00.000Z']);
    expect(rows.map((r) => r.data.spent_usd)).toEqual([formatUsd(IMAGE_NANO), formatUsd(IMAGE_NANO)]);
  });

  it('a raised budget re-arms a threshold that spend is now under: crossing it again records a second event', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: formatUsd(4n * IMAGE_NANO) } });
    const { scenario, env: e } = loopback('threshold-rearm');
    for (const seed of [1, 2]) expect((await generate(t, e, scenario, seed)).status).toBe(200);
    expect(await crossed(t.tenantId, 'key')).toEqual([50]);
    const raised = await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { budget_usd: formatUsd(8n * IMAGE_NANO) } });
    expect(raised.status).toBe(200);
    expect(await crossed(t.tenantId, 'key')).toEqual([50]);
    for (const seed of [3, 4]) expect((await generate(t, e, scenario, seed)).status).toBe(200);
    const rows = (await eventsOf(t.tenantId, 'budget.threshold')).filter((r) => r.data.scope === 'key');
    expect(rows.map((r) => [r.data.threshold_percent, r.data.budget_usd, r.data.spent_usd])).toEqual([
      [50, formatUsd(4n * IMAGE_NANO), formatUsd(2n * IMAGE_NANO)],
      [50, formatUsd(8n * IMAGE_NANO), formatUsd(4n * IMAGE_NANO)],
    ]);
    // only the live event holds the once-key; the first one gave it up but stays in the outbox
    expect(rows.map((r) => r.once_key === null)).toEqual([true, false]);
  });

  it('a budget raised while spend stays above a threshold does not re-arm it', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: formatUsd(2n * IMAGE_NANO) } });
    const { scenario, env: e } = loopback('threshold-no-rearm');
    for (const seed of [1, 2]) expect((await generate(t, e, scenario, seed)).status).toBe(200);
    expect(await crossed(t.tenantId, 'key')).toEqual([50, 80, 100]);
    // 2 of 3 images: 66 % — 80 and 100 re-arm, 50 stays fired
    expect((await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json: { budget_usd: formatUsd(3n * IMAGE_NANO) } })).status).toBe(200);
    expect((await generate(t, e, scenario, 3)).status).toBe(200);
    expect(await crossed(t.tenantId, 'key')).toEqual([50, 80, 80, 100, 100]);
  });

  it('lowering a budget below what was spent crosses at once, in the same batch as the change', async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: formatUsd(10n * IMAGE_NANO) } });
    const { scenario, env: e } = loopback('threshold-lowered');
    for (const seed of [1, 2, 3]) expect((await generate(t, e, scenario, seed)).status).toBe(200);
    expect(await crossed(t.tenantId, 'tenant')).toEqual([]);
    const lowered = await call('PATCH', `/admin/tenants/${t.tenantId}`, { admin: true, json: { budget_usd: formatUsd(5n * IMAGE_NANO) } });
    expect(lowered.status).toBe(200);
    expect(await crossed(t.tenantId, 'tenant')).toEqual([50]);
    const [row] = await eventsOf(t.tenantId, 'budget.threshold');
    expect(row?.data).toMatchObject({ scope: 'tenant', key_id: null, budget_usd: formatUsd(5n * IMAGE_NANO), spent_usd: formatUsd(3n * IMAGE_NANO) });
    // the request that lowered it handed the event to the queue
    expect(row?.enqueued_at).not.toBeNull();
  });

  it('custom thresholds fire at their own percents; [] fires nothing', async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: formatUsd(4n * IMAGE_NANO), alert_thresholds: [] }, key: { budget_usd: formatUsd(4n * IMAGE_NANO), alert_thresholds: [20, 25] } });
    const { scenario, env: e } = loopback('threshold-custom');
    expect((await generate(t, e, scenario, 1)).status).toBe(200);
    expect(await crossed(t.tenantId, 'key')).toEqual([20, 25]);
    expect(await crossed(t.tenantId, 'tenant')).toEqual([]);
  });

  it('a generation the origin failed settles nothing and fires nothing', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: formatUsd(IMAGE_NANO) } });
    const { scenario, env: e } = loopback('threshold-origin-error', '500');
    expectError(await generate(t, e, scenario, 1), 502, 'origin_error');
    expect(await budgetState('key', t.keyId)).toMatchObject({ spentNano: 0n, reservedNano: 0n });
    expect((await ledger('key_id', t.keyId)).map((l) => l.cost_nano)).toEqual([0]);
    expect(await budgetEventsOf(t.tenantId)).toEqual([]);
  });
});
