import { errorText, log } from '../log';
import type { Env } from '../env';
import { releaseExpired } from '../storage/reservations';
import { pruneKeys } from '../storage/idempotency';
import { IDEMPOTENCY_TTL_MS } from '../domain/lifetimes';

/**
 * The cron's work (wrangler.toml `[triggers]`): give back reservations whose request died, and
 * forget Idempotency-Key records past their 24 h. Each part runs even if the other fails.
 */
export async function runHousekeeping(env: Pick<Env, 'DB' | 'IMAGES'>, now: number): Promise<{ released: number; pruned: number }> {
  const [released, pruned] = await Promise.allSettled([releaseExpired(env.DB, now), pruneKeys(env.DB, env.IMAGES, now - IDEMPOTENCY_TTL_MS)]);
  for (const r of [released, pruned]) {
    if (r.status === 'rejected') log.error(`housekeeping: ${errorText(r.reason)}`);
  }
  const summary = {
    released: released.status === 'fulfilled' ? released.value : 0,
    pruned: pruned.status === 'fulfilled' ? pruned.value : 0,
  };
  log.info('housekeeping', summary);
  if (released.status === 'rejected') throw released.reason;
  if (pruned.status === 'rejected') throw pruned.reason;
  return summary;
}
