import { Failed } from '../../domain/failure';
import type { CacheHit } from '../../storage/image-cache';
import { withdraw } from '../../storage/reservations';
import type { Admission } from '../rate-limit';
import { handOver, joinPlan, type ImagePlan } from './image-steps';
import { reservationFor, reserve } from './reserve';
import type { GenerationOptions, ImageJob } from './types';

export interface PlanImagesOptions {
  run: GenerationOptions;
  admission: Admission;
  jobs: ImageJob[];
  /** Each job's lookup, in the same order: the hit, or null. */
  cached: (CacheHit | null)[];
  now: number;
}

/*
 * join ‖ reserve (the README's "Design", docs/money.md). Once the lookups missed, the Coalescer
 * join and the D1 reservation do not depend on each other's answer, so they run at once and the
 * miss waits for the slower of the two instead of both in turn. The reservation is then made for
 * every image that missed, before the joins have said which of them lead:
 *
 * - an image that turns out to follow (or, its flight having just stored the image, to be a hit)
 *   gives its reservation back with no ledger row (`withdraw`); it writes its own row when it is
 *   served, exactly as a follower always has, so a follower's row and cost (0) are unchanged;
 * - for the moment between the two answers the follower's price is reserved: a concurrent request
 *   of the same key or tenant near the end of its budget can see that much less and be refused.
 *   The invariant (spent + reserved ≤ budget) holds throughout; what is lost is at most a refusal
 *   that waiting one round trip would have avoided, only while identical requests are in flight;
 * - a reservation refused for its budget is reserved again for the leaders alone when the joins
 *   sent some images elsewhere (a follower needs no budget), so a 402 means what it meant before;
 * - while the request still has to take an in-flight slot (the slots were full when it was
 *   admitted), the slot comes first and is for leaders only: then join and reserve stay in turn.
 */

/** join ‖ reserve for the request as a whole: each image's plan, the leaders' budget reserved. */
export async function planImages(o: PlanImagesOptions): Promise<ImagePlan[]> {
  const { run, jobs, cached, now } = o;
  const missed = jobs.flatMap((job, i) => (cached[i] ? [] : [job]));
  // all hits: nothing to join or reserve; the slot admit may have taken is given back after the answer
  if (missed.length === 0) return cached.flatMap((hit) => (hit ? [{ step: 'hit' as const, cached: hit }] : []));
  if (o.admission.slotPending) return joinThenReserve(o);
  const items = missed.map((job) => reservationFor(run, job));
  const [joined, reserved] = await Promise.allSettled([joinAll(o), reserve({ run, items, now })]);
  if (joined.status === 'rejected') {
    // a late cache read failed: nothing must stay held for a request that answers 503
    if (reserved.status === 'fulfilled') await giveBack(run, missed).catch(() => undefined);
    throw joined.reason;
  }
  const plans = joined.value;
  if (reserved.status === 'rejected') return reserveAgain(o, plans, missed.length, reserved.reason);
  return withdrawFromNonLeaders(o, plans);
}

/** The plans with the reservations of the images that do not lead given back, and the slot too when none leads. */
async function withdrawFromNonLeaders(o: PlanImagesOptions, plans: ImagePlan[]): Promise<ImagePlan[]> {
  const turned = o.jobs.filter((_, i) => !o.cached[i] && plans[i]?.step !== 'fetch');
  if (turned.length === 0) return plans;
  const withdrawal = giveBack(o.run, turned);
  // awaited by each image it concerns (runImage); this only keeps an early failure from going unobserved
  withdrawal.catch(() => undefined);
  // none leads: no slot either, awaited so that a follower that leads later can lease one again
  if (!plans.some((p) => p.step === 'fetch')) await o.admission.release();
  return plans.map((plan, i) => (plan.step !== 'fetch' && !o.cached[i] ? { ...plan, withdrawal } : plan));
}

/**
 * The reservation made beside the joins failed. Refused for its budget while the joins sent some
 * images elsewhere, it may not hold for the leaders alone: they reserve again on their own, as
 * when reserve followed join. Any other failure fails the request, as a failed reserve always has.
 */
async function reserveAgain(o: PlanImagesOptions, plans: ImagePlan[], missedCount: number, err: unknown): Promise<ImagePlan[]> {
  const leaders = plans.filter((p) => p.step === 'fetch').length;
  const refused = err instanceof Failed && err.failure.code === 'budget_exceeded';
  if (!refused || leaders === missedCount) {
    await handOver(plans);
    throw err;
  }
  await holdAndReserve(o, plans);
  return plans;
}

/** join, then reserve: the order when a slot is still to take. */
async function joinThenReserve(o: PlanImagesOptions): Promise<ImagePlan[]> {
  const plans = await joinAll(o);
  await holdAndReserve(o, plans);
  return plans;
}

function joinAll({ run, jobs, cached, now }: PlanImagesOptions): Promise<ImagePlan[]> {
  return Promise.all(jobs.map((job, i) => joinPlan({ run, job, cached: cached[i] ?? null, now })));
}

function giveBack(run: GenerationOptions, jobs: ImageJob[]): Promise<void> {
  return withdraw(run.env.DB, run.caller, jobs.map((job) => job.generationId), run.deps.now());
}

/**
 * reserve after join: an in-flight slot is for a request that goes to an origin (hits and
 * followers give theirs back, docs/rate-limits.md), and the budget is reserved for every image
 * that goes there, all or nothing. When either is refused, the flights this request leads are
 * handed over so their followers neither wait for it nor behind it.
 */
async function holdAndReserve({ run, admission, now }: PlanImagesOptions, plans: ImagePlan[]): Promise<void> {
  const items = plans.flatMap((plan) => (plan.step === 'fetch' ? [plan.item] : []));
  try {
    if (items.length > 0) await admission.holdSlot(run.deps.now());
    // awaited, not left to waitUntil: a follower that later leads takes a slot again (holdSlot)
    else await admission.release();
    await reserve({ run, items, now });
  } catch (err) {
    await handOver(plans);
    throw err;
  }
}
