import type { CacheHit } from '../../storage/image-cache';
import { joinFlight, rejoinFlight, type Flight } from './flights';
import { lookup } from './lookup';
import type { GenerationOptions, ImageJob } from './types';

export interface JoinOptions {
  run: GenerationOptions;
  job: ImageJob;
  now: number;
}

/** How an image that missed the cache goes on: served after all, waiting for a leader, or leading (alone when `flight` is null). */
export type JoinOutcome = { as: 'hit'; cached: CacheHit } | { as: 'follower'; flight: Flight } | { as: 'leader'; flight: Flight | null };

/**
 * Step 2, join: a cacheable miss joins its key's flight in the Coalescer (docs/cache.md), so that
 * identical requests in flight make one origin call. A follower reserves nothing: it waits for the
 * leader's image. An image that is not cacheable, or a Coalescer that cannot be reached, leads alone.
 */
export async function join({ run, job, now }: JoinOptions): Promise<JoinOutcome> {
  if (!job.cacheable) return { as: 'leader', flight: null };
  const joined = await joinFlight({ env: run.env, tenant: run.caller.tenant, request: job.request, generationId: job.generationId });
  if (joined === null) return { as: 'leader', flight: null };
  if (joined.role !== 'ready') return joined.role === 'leader' ? { as: 'leader', flight: joined } : { as: 'follower', flight: joined };
  // the flight stored its image between this image's lookup and its join: read it again
  const late = await lookup({ run, job, now });
  if (late) return { as: 'hit', cached: late };
  const flight = await rejoinFlight(joined);
  if (flight?.role === 'follower') return { as: 'follower', flight };
  return { as: 'leader', flight };
}
