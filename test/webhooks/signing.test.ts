import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, webhookHeaders, webhookSignature } from '../../src/domain/webhook-signing';
import { eventBody } from '../../src/domain/webhook-events';
import { retryBaseSeconds, retryDelaySeconds } from '../../src/domain/webhook-delivery';

/*
 * docs/webhooks.md, "Signing": what the gateway signs, checked by the official `standardwebhooks`
 * package, here inside workerd where the signing runs.
 */
describe('webhook secrets and signatures', () => {
  it('a secret is whsec_ and the base64 of 32 random bytes, a new one each time', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(a.slice('whsec_'.length)).length).toBe(32);
    expect(a).not.toBe(b);
  });

  it('matches the Standard Webhooks reference example', async () => {
    // the example of the specification's reference libraries
    const sig = await webhookSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('the official package verifies what the gateway signs, and refuses it once anything changed', async () => {
    const secret = newWebhookSecret();
    const now = Math.floor(Date.now() / 1000);
    const body = eventBody({ id: 'msg_abc', type: 'webhook.test', tenantId: null, webhookId: 'wh_x', data: { webhook_id: 'wh_x' }, occurredAt: Date.now(), onceKey: null });
    const headers = await webhookHeaders(secret, 'msg_abc', now, body);
    expect(Object.keys(headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    expect(headers['webhook-id']).toBe('msg_abc');
    expect(headers['webhook-timestamp']).toBe(String(now));
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));

    expect(() => new Webhook(secret).verify(body.replace('wh_x', 'wh_y'), headers)).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_other' })).toThrow();
  });

  it('the body is { type, timestamp (ISO 8601), data }, the same bytes every time', () => {
    const event = { id: 'msg_1', type: 'budget.threshold' as const, tenantId: 'ten_1', webhookId: null, data: { threshold_percent: 80 }, occurredAt: Date.UTC(2026, 10, 30, 12), onceKey: null };
    expect(eventBody(event)).toBe('{"type":"budget.threshold","timestamp":"2026-11-30T12:00:00.000Z","data":{"threshold_percent":80}}');
    expect(eventBody(event)).toBe(eventBody({ ...event }));
  });
});

describe('the retry schedule', () => {
  it('triples from the base: 60, 180, 540, 1620, 4860 s, then no more (six attempts, over at least an hour)', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => retryDelaySeconds(60, attempt));
    expect(delays).toEqual([60, 180, 540, 1620, 4860, null]);
    const total = delays.reduce<number>((sum, d) => sum + (d ?? 0), 0);
    expect(total).toBeGreaterThanOrEqual(3600);
    expect(retryDelaySeconds(0, 3)).toBe(0);
  });

  it('never asks the queue for more than its 12-hour delay', () => {
    expect(retryDelaySeconds(43_200, 5)).toBe(43_200);
  });

  it('reads WEBHOOK_RETRY_BASE_SECONDS, with 60 for anything unset or unreadable, at most 12 hours', () => {
    expect(retryBaseSeconds(undefined)).toBe(60);
    expect(retryBaseSeconds('5')).toBe(5);
    expect(retryBaseSeconds('0')).toBe(0);
    expect(retryBaseSeconds('-3')).toBe(60);
    expect(retryBaseSeconds('soon')).toBe(60);
    expect(retryBaseSeconds('99999')).toBe(43_200);
  });
});
