import { Failed, type Failure } from '../../domain/failure';
import { recordFree } from '../../storage/ledger';
import { lookupCached, type CacheHit } from '../../storage/image-cache';
import { followerFailure, waitFlight, type Flight } from './flights';
import { ledgerEntry } from './ledger-entry';
import type { GenerationOptions, ImageJob } from './types';

export interface WaitOptions {
  run: GenerationOptions;
  job: ImageJob;
  flight: Flight;
}

/** How a follower's wait ended: the leader's image is in the cache, or this image leads now (`flight` null: alone). */
export type WaitOutcome = { as: 'served'; cached: CacheHit } | { as: 'leader'; flight: Flight | null };

/**
 * Step 4', wait: a follower waits for the identical request in flight and is served its stored
 * image at no cost. When the leader's origin failed, the follower fails the same way, uncharged,
 * and the ledger says so. When the leader gave up or vanished, this image leads instead.
 */
export async function wait({ run, job, flight }: WaitOptions): Promise<WaitOutcome> {
  const waited = await waitFlight(flight);
  if (waited.outcome === 'failed') return failUncharged(run, job, followerFailure(waited));
  if (waited.outcome === 'lead') return { as: 'leader', flight };
  // ready, or the Coalescer lost track: the leader's image may be in the cache
  const cached = await lookupCached(run.env.IMAGES, run.caller.tenant, job.request, run.deps.now());
  if (cached) return { as: 'served', cached };
  if (waited.outcome === 'timeout') {
    return failUncharged(run, job, {
      code: 'origin_timeout',
      message: 'an identical request at the origin did not finish in time; nothing was charged',
    });
  }
  return { as: 'leader', flight: null };
}

async function failUncharged(run: GenerationOptions, job: ImageJob, failure: Failure): Promise<never> {
  const now = run.deps.now();
  const entry = ledgerEntry({ run, job, cache: 'coalesced', origin: null, status: failure.code, started: now });
  await recordFree(run.env.DB, run.caller, entry, now);
  throw new Failed(failure);
}
