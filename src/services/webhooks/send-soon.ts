/**
 * After a batch that may have recorded webhook events commits, its caller hands them to the queue
 * without waiting (docs/webhooks.md): the request's answer never depends on it. If sending fails
 * the events stay in the outbox, and the cron sends them (src/services/housekeeping.ts).
 */
import type { Env } from '../../env';
import { errorText, log } from '../../log';
import { sendPendingEvents } from './outbox';

export function sendEventsSoon(env: Pick<Env, 'DB' | 'WEBHOOK_QUEUE'>, now: number, waitUntil: (promise: Promise<unknown>) => void): void {
  waitUntil(
    sendPendingEvents(env, now).catch((err: unknown) => {
      log.warn(`webhooks: events left for the cron to send: ${errorText(err)}`);
    }),
  );
}
