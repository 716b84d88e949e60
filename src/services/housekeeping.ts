import { errorText, log } from '../log';
import type { Env } from '../env';
import { releaseExpired } from '../storage/reservations';
import { pruneKeys } from '../storage/idempotency';
import { recordExpiringKeys } from '../storage/key-events';
import { pruneSessions } from '../storage/console-sessions';
import { IDEMPOTENCY_TTL_MS } from '../domain/lifetimes';
import { sendPendingEvents } from './webhooks/outbox';

export interface HousekeepingSummary {
  released: number;
  pruned: number;
  /** key.expiring events recorded this run. */
  expiring: number;
  /** Queue messages sent for events still in the outbox (this run's, and any a request left unsent). */
  sent: number;
  /** Console session rows deleted: signed out or past their 8 hours. */
  sessions: number;
}

/**
 * The cron's work (wrangler.toml `[triggers]`): give back reservations whose request died, forget
 * Idempotency-Key records past their 24 h, warn of keys that expire within 7 days, delete console
 * sessions that ended or expired (docs/console.md), then hand every
 * webhook event still in the outbox to the queue (docs/webhooks.md) — those just recorded, and any
 * whose Worker died before sending them. Each part runs even if another fails; a failure is logged
 * and then thrown, so the cron run shows as failed.
 */
export async function runHousekeeping(env: Pick<Env, 'DB' | 'IMAGES' | 'WEBHOOK_QUEUE'>, now: number): Promise<HousekeepingSummary> {
  const parts = await Promise.allSettled([
    releaseExpired(env.DB, now),
    pruneKeys(env.DB, env.IMAGES, now - IDEMPOTENCY_TTL_MS),
    recordExpiringKeys(env.DB, now),
    pruneSessions(env.DB, new Date(now).toISOString()),
  ]);
  const [sent] = await Promise.allSettled([sendPendingEvents(env, now)]);
  const all = [...parts, sent];
  for (const r of all) {
    if (r.status === 'rejected') log.error(`housekeeping: ${errorText(r.reason)}`);
  }
  const [released, pruned, expiring, sessions] = parts.map((r) => (r.status === 'fulfilled' ? r.value : 0));
  const summary = {
    released: released ?? 0,
    pruned: pruned ?? 0,
    expiring: expiring ?? 0,
    sent: sent.status === 'fulfilled' ? sent.value : 0,
    sessions: sessions ?? 0,
  };
  log.info('housekeeping', summary);
  const failed = all.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return summary;
}
