import { Failed } from '../../domain/failure';
import { release, settleAll, type SettledItem } from '../../storage/reservations';
import type { GenerationOptions } from './types';

/**
 * Charges every image of the request in one D1 batch, so that they are charged together or not at
 * all (docs/money.md). When that batch fails or does not answer in time (docs/operations.md, "When
 * storage fails"), the client is answered 503 and the reservations are given back at once, rather
 * than held until the cron: their ledger rows say why and still name the stored images. A settle
 * that reaches D1 after that finds no reservation and changes nothing, so a client answered 503 is
 * not charged; only a settle that committed and whose answer was lost is, its image stored and named.
 * Answers whether the tenant has webhook events to hand to the queue (`settle`).
 */
export async function settleOrGiveBack(run: GenerationOptions, settled: SettledItem[], now: number): Promise<boolean> {
  try {
    return await settleAll(run.env.DB, run.caller, settled, now);
  } catch (err) {
    const status = err instanceof Failed ? err.failure.code : 'internal';
    // each on its own: one that fails too is left for the cron
    await Promise.allSettled(settled.map(({ item, entry }) => release(run.env.DB, run.caller, item, { ...entry, status }, run.deps.now())));
    throw err;
  }
}
