import type { ReservationItem } from '../../storage/reservations';
import type { CacheHit } from '../../storage/image-cache';
import type { Admission } from '../rate-limit';
import { charge, serveFree, type ImageInHand } from './charge';
import { fetchImage } from './fetch';
import { finishFlight, leadFlight, type Flight } from './flights';
import { join } from './join';
import { ledgerEntry, originCacheWord } from './ledger-entry';
import { lookup } from './lookup';
import { reservationFor, reserve } from './reserve';
import { store } from './store';
import type { GenerationOptions, ImageJob } from './types';
import { wait } from './wait';

export { charge };

/**
 * Where one image goes after lookup and join: served from the cache, waiting for an identical
 * request in flight, or to the origins (leading its flight, or alone) with its reservation.
 */
export type ImagePlan =
  | { step: 'hit'; cached: CacheHit }
  | { step: 'wait'; flight: Flight }
  | { step: 'fetch'; flight: Flight | null; item: ReservationItem };

export interface PlanOptions {
  run: GenerationOptions;
  job: ImageJob;
  now: number;
}

/** lookup → join: decides an image's way before anything is reserved. */
export async function planImage({ run, job, now }: PlanOptions): Promise<ImagePlan> {
  const cached = await lookup({ run, job, now });
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
  if (plan.step === 'hit') return serveFree({ run, job, cached: plan.cached, cache: 'hit', now });
  if (plan.step === 'wait') return follow({ run, admission, job, flight: plan.flight });
  const { item } = plan;
  return leadFlight(plan.flight, () => produce({ run, job, item }));
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

/**
 * wait, then: served the leader's image at no cost; or leading now (the leader gave up or vanished),
 * with an in-flight slot and a reservation of its own, as any image that goes to an origin.
 */
async function follow({ run, admission, job, flight }: { run: GenerationOptions; admission: Admission; job: ImageJob; flight: Flight }) {
  const waited = await wait({ run, job, flight });
  if (waited.as === 'served') return serveFree({ run, job, cached: waited.cached, cache: 'coalesced', now: run.deps.now() });
  const item = reservationFor(run, job);
  try {
    await admission.holdSlot(run.deps.now());
    await reserve({ run, items: [item], now: run.deps.now() });
  } catch (err) {
    await finishFlight(flight, { kind: 'handover' });
    throw err;
  }
  return leadFlight(waited.flight, () => produce({ run, job, item }));
}
