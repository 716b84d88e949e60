import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sendPendingEvents } from '../../src/services/webhooks/outbox';
import { call, type TestEnv } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';
import {
  createHook,
  devEnv,
  received,
  recordEvent,
  runDelivery,
  runQueueHandler,
  scriptReceiver,
  verified,
  waitForDeliveries,
} from './delivery-support';

/*
 * docs/webhooks.md: from the outbox through the real queue (Miniflare runs the Worker's queue
 * handler) to a real loopback receiver. Retries are driven through the handler itself, one
 * attempt at a time, since the queue's own delays are minutes long.
 */

interface Delivery {
  event_id: string;
  type: string;
  attempt: number;
  at: string;
  response_status: number | null;
  ok: boolean;
  next_attempt_at: string | null;
}

async function deliveriesOf(hookId: string): Promise<Delivery[]> {
  const r = await call('GET', `/admin/webhooks/${hookId}/deliveries`, { admin: true });
  expect(r.status).toBe(200);
  return r.json().deliveries as Delivery[];
}

/** The handler with a one-second base delay, so the schedule is 1, 3, 9, 27, 81 s. */
const quickEnv = { ...env, WEBHOOK_RETRY_BASE_SECONDS: '1' } as TestEnv;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('delivery through the queue', () => {
  it('the test endpoint answers 202 and a signed webhook.test arrives, which the official package verifies', async () => {
    const hook = await createHook();
    const r = await call('POST', `/admin/webhooks/${hook.id}/test`, { admin: true });
    expect(r.status).toBe(202);
    const eventId = r.json().event_id as string;
    expect(eventId).toMatch(/^msg_/);

    const [delivery] = await waitForDeliveries(hook.name, 1);
    expect(delivery, 'the queue delivered the test event').toBeDefined();
    expect(delivery!.headers['webhook-id']).toBe(eventId);
    expect(delivery!.headers['content-type']).toBe('application/json');
    expect(Math.abs(Number(delivery!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    const payload = verified(delivery!, hook.secret);
    expect(payload.type).toBe('webhook.test');
    expect(payload.data).toEqual({ webhook_id: hook.id });
    expect(new Date(payload.timestamp).toISOString()).toBe(payload.timestamp);

    // the delivery log has the attempt once the handler has recorded it
    await vi.waitFor(async () => expect((await deliveriesOf(hook.id)).length).toBe(1), { timeout: 5_000 });
    const [logged] = await deliveriesOf(hook.id);
    expect(logged).toMatchObject({ event_id: eventId, type: 'webhook.test', attempt: 1, response_status: 200, ok: true, next_attempt_at: null });
  });

  it("a tenant's endpoint receives only its tenant's events; a global one receives every tenant's", async () => {
    const [a, b] = [await createTenantWithKey(), await createTenantWithKey()];
    const hookA = await createHook({ tenant_id: a.tenantId, events: ['budget.refused'] });
    const hookB = await createHook({ tenant_id: b.tenantId, events: ['budget.refused'] });
    const global = await createHook({ events: ['budget.refused'] });
    const forA = await recordEvent('budget.refused', a.tenantId, { tenant_id: a.tenantId });
    const forB = await recordEvent('budget.refused', b.tenantId, { tenant_id: b.tenantId });
    const other = await recordEvent('key.created', a.tenantId, { tenant_id: a.tenantId });
    await sendPendingEvents(env, Date.now());

    const atGlobal = await waitForDeliveries(global.name, 2);
    expect(atGlobal.map((d) => d.headers['webhook-id']).sort()).toEqual([forA.id, forB.id].sort());
    const atA = await waitForDeliveries(hookA.name, 1);
    const atB = await waitForDeliveries(hookB.name, 1);
    // give a wrong delivery time to arrive before concluding it did not
    await new Promise((r) => setTimeout(r, 500));
    expect((await received(hookA.name)).map((d) => d.headers['webhook-id'])).toEqual([forA.id]);
    expect((await received(hookB.name)).map((d) => d.headers['webhook-id'])).toEqual([forB.id]);
    expect(atA.concat(atB, atGlobal).some((d) => d.headers['webhook-id'] === other.id)).toBe(false);
    for (const d of atA) verified(d, hookA.secret);
    for (const d of atB) verified(d, hookB.secret);
    for (const d of atGlobal) verified(d, global.secret);
  });
});

describe('retries', () => {
  it('after two 500s the third attempt succeeds, with the same webhook-id; the log shows attempts 1, 2, 3', async () => {
    const hook = await createHook();
    const event = await recordEvent('webhook.test', null, { webhook_id: hook.id });
    const message = { eventId: event.id, webhookId: hook.id };
    await scriptReceiver(hook.name, [500, 500]);

    const first = await runQueueHandler([[message, 1]], quickEnv);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    expect(first.delays).toEqual([1]);
    const second = await runQueueHandler([[message, 2]], quickEnv);
    expect(second.delays).toEqual([3]);
    const third = await runQueueHandler([[message, 3]], quickEnv);
    expect(third.retryMessages).toEqual([]);
    expect(third.explicitAcks).toHaveLength(1);

    const got = await received(hook.name);
    expect(got.map((d) => d.answered)).toEqual([500, 500, 200]);
    expect(new Set(got.map((d) => d.headers['webhook-id']))).toEqual(new Set([event.id]));
    expect(new Set(got.map((d) => d.body)).size).toBe(1);
    for (const d of got) verified(d, hook.secret);

    const log = await deliveriesOf(hook.id);
    expect(log.map((d) => [d.attempt, d.response_status, d.ok])).toEqual([
      [3, 200, true],
      [2, 500, false],
      [1, 500, false],
    ]);
    expect(log[0]!.next_attempt_at).toBeNull();
    for (const d of log.slice(1)) expect(Date.parse(d.next_attempt_at ?? '')).toBeGreaterThan(Date.parse(d.at));
  });

  it('a receiver that always fails is tried six times, then the delivery is failed for good and the message acknowledged', async () => {
    const hook = await createHook();
    const event = await recordEvent('webhook.test', null, { webhook_id: hook.id });
    const message = { eventId: event.id, webhookId: hook.id };
    await scriptReceiver(hook.name, [500, 502, 503, 500, 500, 500, 500]);
    const delays: (number | undefined)[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      const result = await runQueueHandler([[message, attempt]], quickEnv);
      delays.push(result.delays[0]);
      expect(result.retryMessages).toHaveLength(attempt === 6 ? 0 : 1);
      if (attempt === 6) expect(result.explicitAcks).toHaveLength(1);
    }
    expect(delays).toEqual([1, 3, 9, 27, 81, undefined]);
    const log = await deliveriesOf(hook.id);
    expect(log.map((d) => d.attempt)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(log[0]).toMatchObject({ ok: false, response_status: 500, next_attempt_at: null });
    expect(log.every((d) => !d.ok)).toBe(true);
    expect(log.slice(1).every((d) => d.next_attempt_at !== null)).toBe(true);
  });

  it('a receiver that does not answer in time is a failed attempt with no status, retried', async () => {
    const hook = await createHook();
    const event = await recordEvent('webhook.test', null, { webhook_id: hook.id });
    await scriptReceiver(hook.name, ['hang']);
    const result = await runDelivery([[{ eventId: event.id, webhookId: hook.id }, 1]], quickEnv, { timeoutMs: 300 });
    expect(result.retryMessages).toHaveLength(1);
    expect((await deliveriesOf(hook.id))[0]).toMatchObject({ attempt: 1, ok: false, response_status: null });
  });

  it('a receiver that is not there (connection refused) is a failed attempt, retried', async () => {
    const hook = await createHook();
    await call('DELETE', `/admin/webhooks/${hook.id}`, { admin: true });
    const closed = await call('POST', '/admin/webhooks', { admin: true, env: devEnv, json: { url: 'http://127.0.0.1:1/nothing', events: ['*'] } });
    const id = closed.json().id as string;
    const event = await recordEvent('webhook.test', null, { webhook_id: id });
    const result = await runQueueHandler([[{ eventId: event.id, webhookId: id }, 1]], quickEnv);
    expect(result.retryMessages).toHaveLength(1);
    expect(result.delays).toEqual([1]);
    expect((await deliveriesOf(id))[0]).toMatchObject({ attempt: 1, ok: false, response_status: null });
    await call('DELETE', `/admin/webhooks/${id}`, { admin: true });
  });

  it('a redirect is a failed attempt: it is not followed, since it could lead anywhere', async () => {
    const hook = await createHook();
    const event = await recordEvent('webhook.test', null, { webhook_id: hook.id });
    await scriptReceiver(hook.name, [302]);
    const result = await runQueueHandler([[{ eventId: event.id, webhookId: hook.id }, 1]], quickEnv);
    expect(result.retryMessages).toHaveLength(1);
    expect((await received(hook.name)).map((d) => d.answered)).toEqual([302]);
    expect((await deliveriesOf(hook.id))[0]).toMatchObject({ attempt: 1, ok: false, response_status: 302 });
  });

  it('a deleted endpoint gets nothing more: its queued message is acknowledged without a request', async () => {
    const hook = await createHook();
    const event = await recordEvent('webhook.test', null, { webhook_id: hook.id });
    expect((await call('DELETE', `/admin/webhooks/${hook.id}`, { admin: true })).status).toBe(204);
    const result = await runQueueHandler([[{ eventId: event.id, webhookId: hook.id }, 2]], quickEnv);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(await received(hook.name)).toEqual([]);
  });

  it('a message for an event that does not exist, or that is not a webhook message, is acknowledged and dropped', async () => {
    const hook = await createHook();
    const result = await runQueueHandler([[{ eventId: 'msg_missing', webhookId: hook.id }, 1]], quickEnv);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await received(hook.name)).toEqual([]);
  });

  it('the messages of a batch are delivered concurrently: one slow receiver does not hold up the others', async () => {
    const [slow, fast] = [await createHook(), await createHook()];
    const [e1, e2] = [await recordEvent('webhook.test', null), await recordEvent('webhook.test', null)];
    await scriptReceiver(slow.name, ['hang']);
    const started = Date.now();
    const result = await runDelivery(
      [
        [{ eventId: e1.id, webhookId: slow.id }, 1],
        [{ eventId: e2.id, webhookId: fast.id }, 1],
      ],
      quickEnv,
      { timeoutMs: 1_000 },
    );
    expect(Date.now() - started).toBeLessThan(1_900);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(1);
  });
});

describe('secrets stay secret', () => {
  it('no log line of a delivery, a failed one or a retried one carries the secret or the URL', async () => {
    const lines: string[] = [];
    for (const method of ['log', 'warn', 'error', 'info'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
    }
    const hook = await createHook();
    const event = await recordEvent('webhook.test', null, { webhook_id: hook.id });
    const message = { eventId: event.id, webhookId: hook.id };
    await scriptReceiver(hook.name, [500, 500, 500, 500, 500, 500]);
    for (let attempt = 1; attempt <= 6; attempt++) await runQueueHandler([[message, attempt]], quickEnv);
    await runQueueHandler([[{ eventId: 'msg_missing', webhookId: hook.id }, 1]], quickEnv);

    expect(lines.length).toBeGreaterThanOrEqual(6);
    const base64Part = hook.secret.slice('whsec_'.length);
    for (const line of lines) {
      expect(line).not.toContain(base64Part);
      expect(line).not.toContain('whsec_');
      expect(line).not.toContain(hook.name);
    }
    expect(lines.some((l) => l.includes('failed for good'))).toBe(true);
  });
});
