/**
 * From the queue to the receiver (docs/webhooks.md): the Worker's queue handler. Each message is
 * one event for one endpoint; each attempt is signed afresh (the timestamp is the attempt's), keeps
 * the event's id as `webhook-id`, and leaves one row in the delivery log. A failed attempt is
 * retried with a growing delay (each three times the last); after the last one the delivery stays failed and the message is
 * acknowledged. The messages of a batch are delivered concurrently.
 */
import type { Env } from '../../env';
import { DELIVERY_TIMEOUT_MS, MAX_DELIVERY_ATTEMPTS, retryBaseSeconds, retryDelaySeconds } from '../../domain/webhook-delivery';
import { eventBody, type WebhookEvent, type WebhookMessage } from '../../domain/webhook-events';
import { webhookHeaders } from '../../domain/webhook-signing';
import { errorText, log } from '../../log';
import { recordAttempt } from '../../storage/webhook-deliveries';
import { getEvent } from '../../storage/webhook-events';
import { deliveryTarget } from '../../storage/webhooks';

export type DeliveryEnv = Pick<Env, 'DB' | 'WEBHOOK_RETRY_BASE_SECONDS'>;

export interface DeliveryOptions {
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** How long a receiver has to answer (default 10 s). */
  timeoutMs?: number;
}

/** What one attempt came to. */
interface Outcome {
  ok: boolean;
  status: number | null;
  error: string | null;
}

export async function deliverBatch(batch: MessageBatch<unknown>, env: DeliveryEnv, options: DeliveryOptions = {}): Promise<void> {
  await Promise.all(batch.messages.map((message) => deliverMessage(message, env, options)));
}

function isWebhookMessage(body: unknown): body is WebhookMessage {
  const b = body as Partial<WebhookMessage> | null;
  return typeof b?.eventId === 'string' && typeof b.webhookId === 'string';
}

async function deliverMessage(message: Message<unknown>, env: DeliveryEnv, options: DeliveryOptions): Promise<void> {
  const body = message.body;
  if (!isWebhookMessage(body)) {
    log.warn('webhook: a queue message that is not an event for an endpoint; dropped', { message_id: message.id });
    return message.ack();
  }
  const fields = { event_id: body.eventId, webhook_id: body.webhookId, attempt: message.attempts };
  try {
    const [event, target] = await Promise.all([getEvent(env.DB, body.eventId), deliveryTarget(env.DB, body.webhookId)]);
    if (!event || !target) {
      log.info(`webhook: delivery stopped, ${event ? 'the endpoint was deleted' : 'the event no longer exists'}`, fields);
      return message.ack();
    }
    await attempt(message, event, body.webhookId, target, env, options);
  } catch (err) {
    // the log could not be written, or the like: the queue tries again, then the dead-letter queue keeps it
    log.error(`webhook: delivery could not be handled: ${errorText(err)}`, fields);
    message.retry({ delaySeconds: retryBaseSeconds(env.WEBHOOK_RETRY_BASE_SECONDS) });
  }
}

async function attempt(
  message: Message<unknown>,
  event: WebhookEvent,
  webhookId: string,
  target: { url: string; secret: string },
  env: DeliveryEnv,
  options: DeliveryOptions,
): Promise<void> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const outcome = await post(target, event, Math.floor(startedAt / 1000), options.timeoutMs ?? DELIVERY_TIMEOUT_MS);
  const delay = outcome.ok ? null : retryDelaySeconds(retryBaseSeconds(env.WEBHOOK_RETRY_BASE_SECONDS), message.attempts);
  const finishedAt = now();
  await recordAttempt(env.DB, {
    webhookId,
    eventId: event.id,
    attempt: message.attempts,
    at: new Date(startedAt).toISOString(),
    responseStatus: outcome.status,
    ok: outcome.ok,
    error: outcome.error,
    nextAttemptAt: delay === null ? null : new Date(finishedAt + delay * 1000).toISOString(),
  });
  if (delay === null) {
    if (!outcome.ok) log.warn(`webhook: delivery failed for good after ${MAX_DELIVERY_ATTEMPTS} attempts`, logFields(event, webhookId, message, outcome));
    return message.ack();
  }
  log.info(`webhook: attempt failed, retrying in ${delay} s`, logFields(event, webhookId, message, outcome));
  message.retry({ delaySeconds: delay });
}

/** One signed POST. A redirect counts as a failure: following it could lead anywhere the URL rule forbids. */
async function post(target: { url: string; secret: string }, event: WebhookEvent, timestamp: number, timeoutMs: number): Promise<Outcome> {
  const body = eventBody(event);
  const headers = { 'content-type': 'application/json', 'user-agent': 'imagegate-webhooks', ...(await webhookHeaders(target.secret, event.id, timestamp, body)) };
  try {
    const response = await fetch(target.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    const ok = response.status >= 200 && response.status < 300;
    return { ok, status: response.status, error: ok ? null : `the receiver answered ${response.status}` };
  } catch (err) {
    const timedOut = err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return { ok: false, status: null, error: timedOut ? `no answer within ${timeoutMs} ms` : errorText(err) };
  }
}

/** Never the secret, the URL (it may carry a token in its path) or the body. */
function logFields(event: WebhookEvent, webhookId: string, message: Message<unknown>, outcome: Outcome) {
  return { event_id: event.id, type: event.type, webhook_id: webhookId, attempt: message.attempts, status: outcome.status, error: outcome.error };
}
