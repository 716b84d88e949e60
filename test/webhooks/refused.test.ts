import { describe, expect, it } from 'vitest';
import { formatUsd } from '../../src/domain/money';
import { call, clockedApp, genBody, loopback, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { BIG, budgetState, expectNothingCharged, IMAGE_NANO, ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { eventsOf, recordingQueue, tenantEndpoint } from './outbox-rows';

describe('budget.refused: the first 402 of a budget in a period (docs/webhooks.md)', () => {
  it('records one event for the first refusal only, with the request cost, and charges the refused requests nothing', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: formatUsd(IMAGE_NANO) } });
    const { scenario, env: base } = loopback('refused-once');
    const { queue, sent } = recordingQueue();
    const e = { ...base, WEBHOOK_QUEUE: queue } as TestEnv;
    const endpoint = await tenantEndpoint(t.tenantId);
    expect((await call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { ...BIG, seed: 1 }) })).status).toBe(200);
    for (const seed of [2, 3, 4]) {
      expectError(await call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { ...BIG, seed }) }), 402, 'budget_exceeded');
    }
    expect(await budgetState('key', t.keyId)).toMatchObject({ spentNano: IMAGE_NANO, reservedNano: 0n });
    expect(await budgetState('tenant', t.tenantId)).toMatchObject({ spentNano: IMAGE_NANO, reservedNano: 0n });
    expect((await ledger('key_id', t.keyId)).map((l) => l.cost_nano)).toEqual([Number(IMAGE_NANO)]);

    const refused = await eventsOf(t.tenantId, 'budget.refused');
    expect(refused).toHaveLength(1);
    const key = (await call('GET', `/admin/keys/${t.keyId}`, { admin: true })).json();
    expect(refused[0]?.data).toEqual({
      scope: 'key',
      tenant_id: t.tenantId,
      key_id: t.keyId,
      name: key.name,
      threshold_percent: null,
      budget_usd: formatUsd(IMAGE_NANO),
      spent_usd: formatUsd(IMAGE_NANO),
      period: 'month',
      period_resets_at: key.usage.period_resets_at,
      request_cost_usd: formatUsd(IMAGE_NANO),
    });
    expect(refused[0]?.once_key).toBe(`refused:key:${t.keyId}:${(await budgetState('key', t.keyId)).periodKey}`);
    expect(refused[0]?.enqueued_at).not.toBeNull();
    expect(sent.filter((m) => m.webhookId === endpoint && m.eventId === refused[0]?.id)).toHaveLength(1);
  });

  it('many concurrent refusals of a tenant budget of "0" record exactly one event, and nothing is charged', async () => {
    const t = await createTenantWithKey({ tenant: { budget_usd: '0' } });
    const { scenario, env: e } = loopback('refused-burst');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { seed: i }) })),
    );
    for (const r of answers) expectError(r, 402, 'budget_exceeded');
    await expectNothingCharged(t);
    const rows = await eventsOf(t.tenantId);
    expect(rows.map((r) => r.type).filter((type) => type !== 'key.created')).toEqual(['budget.refused']);
    const refused = rows.find((r) => r.type === 'budget.refused');
    expect(refused?.data).toMatchObject({ scope: 'tenant', tenant_id: t.tenantId, key_id: null, budget_usd: '0', spent_usd: '0', request_cost_usd: '0.000124519' });
  });

  it('a new period records its own first refusal', async () => {
    const { clock, app } = clockedApp(Date.parse('2031-06-15T08:00:00.000Z'));
    const t = await createTenantWithKey({ key: { budget_usd: '0.001', budget_period: 'day' } });
    const { scenario, env: e } = loopback('refused-period');
    const generate = (seed: number) => call('POST', '/image/generation', { key: t.key, env: e, app, json: genBody(scenario, { ...BIG, seed }) });
    expectError(await generate(1), 402, 'budget_exceeded');
    expectError(await generate(2), 402, 'budget_exceeded');
    clock.now = Date.parse('2031-06-16T00:00:00.000Z');
    expectError(await generate(3), 402, 'budget_exceeded');
    const rows = await eventsOf(t.tenantId, 'budget.refused');
    expect(rows.map((r) => r.once_key)).toEqual([`refused:key:${t.keyId}:day:2031-06-15`, `refused:key:${t.keyId}:day:2031-06-16`]);
    expect(rows.map((r) => r.data.period_resets_at)).toEqual(['2031-06-16T00:00:00.000Z', '2031-06-17T00:00:00.000Z']);
    await expectNothingCharged(t);
  });
});
