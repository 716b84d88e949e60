import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { expect, inject } from 'vitest';
import { Webhook } from 'standardwebhooks';
import worker from '../../src/index';
import type { WebhookEvent, WebhookEventType, WebhookMessage } from '../../src/domain/webhook-events';
import { newEventId } from '../../src/domain/webhook-events';
import { deliverBatch, type DeliveryOptions } from '../../src/services/webhooks/deliver';
import { insertEvent } from '../../src/storage/webhook-events';
import { call, unique, type TestEnv } from '../helpers/api';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Port of the loopback webhook receiver started in test/node/global-setup.ts. */
    webhookPort: number;
  }
}

/** The environment `npm run dev` runs in: loopback receivers accepted. */
export const devEnv = { ...env, WEBHOOK_ALLOW_LOOPBACK: 'true' } as TestEnv;

function receiverBase(): string {
  return `http://127.0.0.1:${inject('webhookPort')}`;
}

export function receiverUrl(hook: string): string {
  return `${receiverBase()}/hooks/${hook}`;
}

export interface ReceivedDelivery {
  headers: Record<string, string>;
  body: string;
  answered: number | null;
}

export async function received(hook: string): Promise<ReceivedDelivery[]> {
  return (await (await fetch(`${receiverBase()}/__received/${hook}`)).json()) as ReceivedDelivery[];
}

/** Makes the receiver answer the next deliveries to `hook` with these statuses ("hang": never). */
export async function scriptReceiver(hook: string, answers: (number | 'hang')[]): Promise<void> {
  await fetch(`${receiverBase()}/__script/${hook}`, { method: 'POST', body: JSON.stringify(answers) });
}

/** Waits (up to 10 s) until `hook` has received `count` deliveries; the queue delivers in the background. */
export async function waitForDeliveries(hook: string, count: number): Promise<ReceivedDelivery[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const got = await received(hook);
    if (got.length >= count || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Hook {
  id: string;
  secret: string;
  /** The receiver's name for it. */
  name: string;
}

/** A new endpoint aimed at a fresh receiver hook, made by the bootstrap owner. */
export async function createHook(fields: Record<string, unknown> = {}): Promise<Hook> {
  const name = unique('hook');
  const r = await call('POST', '/admin/webhooks', { admin: true, env: devEnv, json: { url: receiverUrl(name), events: ['*'], ...fields } });
  if (r.status !== 201) throw new Error(`creating a webhook: ${r.status} ${r.text()}`);
  return { id: r.json().id, secret: r.json().secret, name };
}

/** Records an event in the outbox, as the change that causes one does (in its batch). */
export async function recordEvent(type: WebhookEventType, tenantId: string | null, data: Record<string, unknown> = {}): Promise<WebhookEvent> {
  const event: WebhookEvent = { id: newEventId(), type, tenantId, webhookId: null, data, occurredAt: Date.now(), onceKey: null };
  await env.DB.batch([insertEvent(env.DB, event)]);
  return event;
}

/** Asserts that the official Standard Webhooks package accepts the delivery with this secret; returns the body. */
export function verified(delivery: ReceivedDelivery, secret: string): { type: string; timestamp: string; data: Record<string, unknown> } {
  const payload = new Webhook(secret).verify(delivery.body, delivery.headers) as { type: string; timestamp: string; data: Record<string, unknown> };
  expect(payload).toEqual(JSON.parse(delivery.body));
  return payload;
}

/** One message of the queue as the handler sees it: this event for this endpoint, on attempt `attempts`. */
function queueMessage(message: WebhookMessage, attempts: number): { id: string; timestamp: Date; body: WebhookMessage; attempts: number } {
  return { id: unique('qmsg'), timestamp: new Date(), body: message, attempts };
}

/**
 * A batch of messages, each on its attempt count, whose retry delays are noted: the pool's
 * `getQueueResult` reports which messages were retried but not with what delay.
 */
function batchOf(messages: [WebhookMessage, number][]) {
  const batch = createMessageBatch<WebhookMessage>('imagegate-webhooks', messages.map(([m, a]) => queueMessage(m, a)));
  const delays: (number | undefined)[] = [];
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (options?: QueueRetryOptions) => {
      delays.push(options?.delaySeconds);
      retry(options);
    };
  }
  return { batch, delays };
}

/** Runs the Worker's own queue handler on one batch, as the queue would; returns what it acked and retried, and the delays asked. */
export async function runQueueHandler(messages: [WebhookMessage, number][], testEnv: TestEnv = env) {
  const { batch, delays } = batchOf(messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, testEnv, ctx);
  return { ...(await getQueueResult(batch, ctx)), delays };
}

/** Runs the delivery step itself, with options the queue handler leaves at their defaults (a short timeout). */
export async function runDelivery(messages: [WebhookMessage, number][], testEnv: TestEnv, options: DeliveryOptions) {
  const { batch, delays } = batchOf(messages);
  const ctx = createExecutionContext();
  await deliverBatch(batch, testEnv, options);
  return { ...(await getQueueResult(batch, ctx)), delays };
}
