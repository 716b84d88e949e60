/**
 * From the outbox to the queue (docs/webhooks.md). Whoever commits a batch that may have recorded
 * an event calls `sendPendingEvents` afterwards, through `waitUntil` so the request never waits
 * for it; the cron calls it too, for events whose Worker died before sending them.
 */
import type { Env } from '../../env';
import type { WebhookMessage } from '../../domain/webhook-events';
import { errorText, log } from '../../log';
import { takePendingEvents, untakeEvents } from '../../storage/webhook-events';
import { listWebhooks, takesEvent } from '../../storage/webhooks';

/** Events taken per round; a queue's sendBatch takes at most 100 messages. */
const EVENTS_PER_ROUND = 25;

/** Hands every pending event to the queue, one message per event and endpoint that wants it. */
export async function sendPendingEvents(env: Pick<Env, 'DB' | 'WEBHOOK_QUEUE'>, now: number): Promise<number> {
  let sent = 0;
  for (;;) {
    const events = await takePendingEvents(env.DB, now, EVENTS_PER_ROUND);
    if (events.length === 0) return sent;
    try {
      // every live endpoint, read once a round: there are few, and each event picks its own
      const endpoints = await listWebhooks(env.DB, null);
      const messages: WebhookMessage[] = events.flatMap((event) =>
        endpoints.filter((webhook) => takesEvent(webhook, event)).map((webhook) => ({ eventId: event.id, webhookId: webhook.id })),
      );
      for (let i = 0; i < messages.length; i += 100) {
        await env.WEBHOOK_QUEUE.sendBatch(messages.slice(i, i + 100).map((body) => ({ body, contentType: 'json' as const })));
      }
      sent += messages.length;
    } catch (err) {
      log.error(`webhooks: could not enqueue ${events.length} events: ${errorText(err)}`);
      await untakeEvents(env.DB, events.map((e) => e.id));
      throw err;
    }
  }
}
