import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { runHousekeeping } from '../../src/services/housekeeping';
import { call, unique, type TestEnv } from '../helpers/api';
import { addKey, createTenantWithKey } from '../helpers/tenants';
import { eventsOf, recordingQueue, tenantEndpoint } from './outbox-rows';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** A queue binding whose every send fails, as when the queue is unreachable. */
function brokenQueue(): Queue {
  const fail = async (): Promise<never> => {
    throw new Error('queue unavailable');
  };
  return { metrics: fail, send: fail, sendBatch: fail };
}

describe('key.expiring: the cron warns 7 days ahead, once per key and expiry (docs/webhooks.md)', () => {
  it('records one event per key expiring within 7 days, however often the cron runs, and sends it', async () => {
    const now = Date.now();
    const soon = await createTenantWithKey({ key: { expires_at: iso(now + 3 * DAY) } });
    const later = await addKey(soon.tenantId, { expires_at: iso(now + 8 * DAY) });
    const past = await addKey(soon.tenantId, { expires_at: iso(now - DAY) });
    const revoked = await addKey(soon.tenantId, { expires_at: iso(now + 2 * DAY) });
    expect((await call('DELETE', `/admin/keys/${revoked.keyId}`, { admin: true })).status).toBe(204);
    const endpoint = await tenantEndpoint(soon.tenantId);
    const { queue, sent } = recordingQueue();
    const e = { ...env, WEBHOOK_QUEUE: queue } as TestEnv;

    const first = await runHousekeeping(e, now);
    expect(first.expiring).toBeGreaterThanOrEqual(1);
    await runHousekeeping(e, now + 60_000);
    const rows = await eventsOf(soon.tenantId, 'key.expiring');
    const key = (await call('GET', `/admin/keys/${soon.keyId}`, { admin: true })).json();
    expect(rows.map((r) => r.data)).toEqual([{ tenant_id: soon.tenantId, key_id: soon.keyId, name: key.name, expires_at: key.expires_at }]);
    expect(rows[0]?.once_key).toBe(`expiring:${soon.keyId}:${key.expires_at}`);
    expect(rows[0]?.enqueued_at).not.toBeNull();
    expect(sent.filter((m) => m.webhookId === endpoint && m.eventId === rows[0]?.id)).toHaveLength(1);
    expect([later.keyId, past.keyId, revoked.keyId].some((id) => rows.some((r) => r.data.key_id === id))).toBe(false);

    // the later key comes into range a day on; a moved expiry warns again for the new date
    await runHousekeeping(e, now + 1.5 * DAY);
    const moved = iso(now + 5 * DAY);
    expect((await call('PATCH', `/admin/keys/${soon.keyId}`, { admin: true, json: { expires_at: moved } })).status).toBe(200);
    await runHousekeeping(e, now + 1.5 * DAY + 60_000);
    const all = await eventsOf(soon.tenantId, 'key.expiring');
    expect(all.map((r) => [r.data.key_id, r.data.expires_at])).toEqual([
      [soon.keyId, key.expires_at],
      [later.keyId, iso(now + 8 * DAY)],
      [soon.keyId, moved],
    ]);
  });

  it('a queue that fails leaves events in the outbox, the other parts still run, and a later cron sends them', async () => {
    const now = Date.now();
    const t = await createTenantWithKey({ key: { name: unique('expiring'), expires_at: iso(now + DAY) } });
    const endpoint = await tenantEndpoint(t.tenantId);
    const broken = { ...env, WEBHOOK_QUEUE: brokenQueue() } as TestEnv;
    await expect(runHousekeeping(broken, now)).rejects.toThrow('queue unavailable');
    const [row] = await eventsOf(t.tenantId, 'key.expiring');
    expect(row?.enqueued_at).toBeNull();

    const { queue, sent } = recordingQueue();
    const summary = await runHousekeeping({ ...env, WEBHOOK_QUEUE: queue } as TestEnv, now + 60_000);
    expect(summary.sent).toBeGreaterThanOrEqual(1);
    // the key.created event went out when the key was made, before the endpoint existed
    expect(sent.filter((m) => m.webhookId === endpoint).map((m) => m.eventId)).toEqual([row?.id]);
    expect((await eventsOf(t.tenantId)).every((r) => r.enqueued_at !== null)).toBe(true);
  });
});
