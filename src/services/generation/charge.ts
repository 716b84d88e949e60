import { Failed } from '../../domain/failure';
import { recordFree, type LedgerEntry } from '../../storage/ledger';
import { release, type ReservationItem } from '../../storage/reservations';
import type { CacheHit } from '../../storage/image-cache';
import { sendEventsSoon } from '../webhooks/send-soon';
import { ledgerEntry } from './ledger-entry';
import { settleOrGiveBack } from './settle';
import type { GeneratedImage, GenerationOptions, ImageJob } from './types';

/**
 * An image in hand, and what it costs once the request as a whole succeeds. Free images (hits,
 * coalesced followers) carry no charge: their ledger rows are written when they are served.
 */
export interface ImageInHand {
  image: GeneratedImage;
  charge?: { item: ReservationItem; entry: LedgerEntry };
}

export interface ServeFreeOptions {
  run: GenerationOptions;
  job: ImageJob;
  cached: CacheHit;
  cache: 'hit' | 'coalesced';
  now: number;
}

/** An image served without an origin call (a cache hit, or a coalesced follower): cost 0, one ledger row. */
export async function serveFree({ run, job, cached, cache, now }: ServeFreeOptions): Promise<ImageInHand> {
  const image: GeneratedImage = {
    id: job.id,
    request: job.request,
    drawn: job.drawn,
    bytes: cached.bytes,
    contentType: cached.contentType,
    cache,
    costNano: 0n,
    origin: 'cache',
  };
  const entry = ledgerEntry({ run, job, cache, origin: 'cache', status: 'ok', started: now });
  await recordFree(run.env.DB, run.caller, { ...entry, image: { id: job.id, r2Key: cached.r2Key } }, now);
  return { image };
}

export interface ChargeOptions {
  run: GenerationOptions;
  outcomes: PromiseSettledResult<ImageInHand>[];
}

/**
 * Step 6, charge: when every image of the request is in hand, each charge is settled with its
 * ledger row. When one failed the request fails, and a request that fails costs nothing
 * (docs/money.md): the reservations of the images already in hand are given back, their ledger
 * rows saying why. Budget alert events a settle recorded go to the queue after the answer.
 */
export async function charge({ run, outcomes }: ChargeOptions): Promise<GeneratedImage[]> {
  const done = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  const now = run.deps.now();
  if (failure) {
    const status = failure.reason instanceof Failed ? failure.reason.failure.code : 'internal';
    await Promise.all(
      done.map((o) => o.charge && release(run.env.DB, run.caller, o.charge.item, { ...o.charge.entry, status, image: undefined }, now)),
    );
    throw failure.reason;
  }
  const pending = await settleOrGiveBack(run, done.flatMap((o) => (o.charge ? [o.charge] : [])), now);
  // a settle that crossed a budget alert threshold left an event in the outbox (docs/webhooks.md)
  if (pending) sendEventsSoon(run.env, now, run.waitUntil);
  return done.map((o) => o.image);
}
