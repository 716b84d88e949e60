import type { ReservationItem } from '../../storage/reservations';
import type { CacheHit } from '../../storage/image-cache';
import type { Admission } from '../rate-limit';
import { charge, serveFree, type ImageInHand } from './charge';
import { fetchImage } from './fetch';
import { finishFlight, leadFlight, type Flight } from './flights';
import { join } from './join';
import { ledgerEntry, originCacheWord } from './ledger-entry';
import { reservationFor, reserve } from './reserve';
import { store } from './store';
import type { GenerationOptions, ImageJob } from './types';
import { wait, type WaitOutcome } from './wait';

export { charge };

/**
 * Where one image goes after lookup and join: served from the cache, waiting for an identical
 * request in flight, or to the origins (leading its flight, or alone) with its reservation. A hit
 * or a follower whose image reserved while it joined carries the giving back of that reservation
 * (`withdrawal`, plan.ts), which must end before the image is done.
 */
export type ImagePlan =
  | { step: 'hit'; cached: CacheHit; withdrawal?: Promise<void> }
  | { step: 'wait'; flight: Flight; withdrawal?: Promise<void> }
  | { step: 'fetch'; flight: Flight | null; item: ReservationItem };

export interface PlanOptions {
  run: GenerationOptions;
  job: ImageJob;
  /** What the image's lookup found (lookup.ts): null for a miss, or an image that is not cacheable. */
  cached: CacheHit | null;
  now: number;
}

/** join, once the lookup is done: decides an image's way. */
export async function joinPlan({ run, job, cached, now }: PlanOptions): Promise<ImagePlan> {
  if (cached) return { step: 'hit', cached };
  const joined = await join({ run, job, now });
  if (joined.as === 'hit') return { step: 'hit', cached: joined.cached };
  if (joined.as === 'follower') return { step: 'wait', flight: joined.flight };
  return { step: 'fetch', flight: joined.flight, item: reservationFor(run, job) };
}

/** Tells the followers of every flight this request joined that it will not go to the origin. */
export async function handOver(plans: ImagePlan[]): Promise<void> {
  await Promise.all(plans.map((plan) => (plan.step === 'hit' ? undefined : finishFlight(plan.flight, { kind: 'handover' }))));
}

export interface RunImageOptions {
  run: GenerationOptions;
  admission: Admission;
  job: ImageJob;
  plan: ImagePlan;
  now: number;
}

/** The rest of an image's way once the request's reservations are made: (fetch → store) | (wait → …), ready to charge. */
export async function runImage({ run, admission, job, plan, now }: RunImageOptions): Promise<ImageInHand> {
  if (plan.step === 'hit') {
    const [inHand] = await Promise.all([serveFree({ run, job, cached: plan.cached, cache: 'hit', now }), plan.withdrawal]);
    return inHand;
  }
  if (plan.step === 'wait') return follow({ run, admission, job, flight: plan.flight, withdrawal: plan.withdrawal });
  const { item } = plan;
  return leadFlight(plan.flight, () => produce({ run, job, item }), run.waitUntil);
}

/** fetch → store: an image from the origins, kept, with the charge that settles it. */
async function produce({ run, job, item }: { run: GenerationOptions; job: ImageJob; item: ReservationItem }): Promise<ImageInHand> {
  const started = run.deps.now();
  const fetched = await fetchImage({ run, job, item, started });
  const r2Key = await store({ run, job, image: fetched, item, started });
  const cache = originCacheWord(run, job);
  const image = { id: job.id, request: job.request, drawn: job.drawn, ...fetched, cache, costNano: item.costNano };
  const entry = { ...ledgerEntry({ run, job, cache, origin: fetched.origin, status: 'ok', started }), image: { id: job.id, r2Key } };
  return { image, charge: { item, entry } };
}

interface FollowOptions {
  run: GenerationOptions;
  admission: Admission;
  job: ImageJob;
  flight: Flight;
  withdrawal: Promise<void> | undefined;
}

/**
 * wait, then: served the leader's image at no cost; or leading now (the leader gave up or vanished),
 * with an in-flight slot and a reservation of its own, as any image that goes to an origin.
 */
async function follow({ run, admission, job, flight, withdrawal }: FollowOptions): Promise<ImageInHand> {
  const waited = await waitWithdrawn({ run, job, flight, withdrawal });
  if (waited.as === 'served') return serveFree({ run, job, cached: waited.cached, cache: 'coalesced', now: run.deps.now() });
  const item = reservationFor(run, job);
  try {
    await admission.holdSlot(run.deps.now());
    await reserve({ run, items: [item], now: run.deps.now() });
  } catch (err) {
    await finishFlight(flight, { kind: 'handover' });
    throw err;
  }
  return leadFlight(waited.flight, () => produce({ run, job, item }), run.waitUntil);
}

/**
 * The wait, with the reservation made while joining given back meanwhile: both end before the
 * image may reserve again under the same generation id. When the giving back failed the image
 * fails (503, as any storage call that fails), handing over a lead the wait gave it.
 */
async function waitWithdrawn({ run, job, flight, withdrawal }: Omit<FollowOptions, 'admission'>): Promise<WaitOutcome> {
  const [waited, withdrawn] = await Promise.allSettled([wait({ run, job, flight }), withdrawal]);
  if (withdrawn.status === 'rejected') {
    if (waited.status === 'fulfilled' && waited.value.as === 'leader') await finishFlight(waited.value.flight, { kind: 'handover' });
    throw withdrawn.reason;
  }
  if (waited.status === 'rejected') throw waited.reason;
  return waited.value;
}
