import { describe, expect, it } from 'vitest';
import { formatUsd } from '../../src/domain/money';
import { call, genBody, loopback, type TestEnv } from '../helpers/api';
import { BIG, IMAGE_NANO } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { crossed } from './outbox-rows';
import { countingDb } from '../helpers/counting-db';

const touchesOutbox = (trip: string[]) => trip.some((sql) => sql.includes('webhook_events'));

describe('budget alerts cost the generation path no round trip (docs/webhooks.md)', () => {
  it('a cache hit touches neither the outbox nor the budgets; a miss that crosses nothing asks inside its settle batch only', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: '1000' } });
    const { scenario, env: base } = loopback('round-trips');
    const { db, trips } = countingDb();
    const e = { ...base, DB: db } as TestEnv;
    const body = genBody(scenario, { ...BIG, seed: 7 });

    expect((await call('POST', '/image/generation', { key: t.key, env: e, json: body })).status).toBe(200);
    const missTrips = trips.splice(0);
    // the one statement about the outbox rides in the settle batch; no queue hand-off follows
    expect(missTrips.filter(touchesOutbox)).toHaveLength(1);
    const settleBatch = missTrips.find(touchesOutbox) ?? [];
    expect(settleBatch.some((sql) => sql.includes('INSERT INTO usage_ledger'))).toBe(true);
    expect(missTrips.some((trip) => trip.some((sql) => sql.startsWith('UPDATE webhook_events')))).toBe(false);

    const hit = await call('POST', '/image/generation', { key: t.key, env: e, json: body });
    expect(hit.headers.get('cache-status')).toContain('hit');
    const hitTrips = trips.splice(0);
    expect(hitTrips.filter(touchesOutbox)).toEqual([]);
    expect(hitTrips.some((trip) => trip.some((sql) => /UPDATE (api_keys|tenants)/.test(sql)))).toBe(false);
  });

  it('a miss whose settle crosses a threshold hands its event to the queue once, after the answer', async () => {
    const t = await createTenantWithKey({ key: { budget_usd: formatUsd(2n * IMAGE_NANO), alert_thresholds: [50] } });
    const { scenario, env: base } = loopback('round-trips-cross');
    const { db, trips } = countingDb();
    const e = { ...base, DB: db } as TestEnv;
    expect((await call('POST', '/image/generation', { key: t.key, env: e, json: genBody(scenario, { ...BIG, seed: 1 }) })).status).toBe(200);
    expect(await crossed(t.tenantId, 'key')).toEqual([50]);
    const takes = trips.filter((trip) => trip.some((sql) => sql.trimStart().startsWith('UPDATE webhook_events SET enqueued_at')));
    expect(takes.length).toBeGreaterThanOrEqual(1);
  });
});
