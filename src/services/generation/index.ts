import { drawSeedRun, type GenerationRequest } from '../../domain/generation-request';
import { fail, Failed } from '../../domain/failure';
import { newId } from '../../domain/keys';
import { formatUsd, type Nano } from '../../domain/money';
import { listPriceOf } from '../../domain/pricing';
import { budgetRemaining } from '../../storage/budget-snapshot';
import { admit, type Admission } from '../rate-limit';
import { charge, handOver, planImage, runImage, type ImagePlan } from './image-steps';
import { reserve } from './reserve';
import type { GenerationOptions, GenerationResult, ImageJob } from './types';

export type { GeneratedImage, GenerationOptions, GenerationResult, ImageJob } from './types';

/*
 * The generation pipeline (docs/generation.md, and the README's "Design"). One request makes one
 * or more images; each image goes its own way through named steps, each in its own file:
 *
 *   lookup → join → reserve → fetch | wait → store → charge
 *
 * lookup (cache), join (merge with an identical request in flight), reserve (budget, all images of
 * the request at once), fetch (origins) or wait (for the identical request's leader), store (R2),
 * charge (settle every image's reservation once all are in hand, or give them all back).
 */

/**
 * Runs a request's generations: admits it against the rate limits, plans each image (lookup →
 * join), reserves what the images that go to an origin cost, runs each image to its end and
 * charges the request as a whole. Refusals and failures are thrown as `Failed`.
 */
export async function generate(run: GenerationOptions, requests: GenerationRequest[]): Promise<GenerationResult> {
  checkMaxCost(run, requests);
  const now = run.deps.now();
  const jobs = imageJobs(run, requests);
  const admission = await admit({ env: run.env, caller: run.caller, requestId: run.requestId, now, mayHitCache: jobs.some((j) => j.cacheable) });
  try {
    const plans = await Promise.all(jobs.map((job) => planImage({ run, job, now })));
    await holdAndReserve(run, admission, plans, now);
    const outcomes = await Promise.allSettled(
      jobs.map((job, i) => runImage({ run, admission, job, plan: plans[i] as ImagePlan, now })),
    );
    const images = await charge({ run, outcomes });
    return {
      images,
      costNano: images.reduce((sum, img) => sum + img.costNano, 0n),
      rateLimit: admission.report,
      budgetRemainingNano: await remainingAfterCharge(run),
    };
  } finally {
    run.waitUntil(admission.release());
  }
}

/**
 * What the budgets have left, for the answer's header: the images are charged by now, so storage
 * failing here leaves the header out (the log line names the fault) rather than failing a request
 * that was paid for (docs/operations.md, "When storage fails").
 */
async function remainingAfterCharge(run: GenerationOptions): Promise<Nano | null> {
  try {
    return await budgetRemaining(run.env.DB, run.caller, run.deps.now());
  } catch (err) {
    if (err instanceof Failed) return null;
    throw err;
  }
}

/**
 * `Imagegate-Max-Cost-USD` (docs/money.md): a request whose list price (every image as if it went to
 * the origin; hits only make it cheaper) is above the client's ceiling is refused before it is
 * admitted, reserved or sent.
 */
function checkMaxCost(run: GenerationOptions, requests: GenerationRequest[]): void {
  const max = run.maxCostNano;
  if (max === undefined || max === null) return;
  const cost = listPriceOf(run.spec, requests);
  if (cost > max) {
    fail('max_cost_exceeded', `this request costs ${formatUsd(cost)} USD, above Imagegate-Max-Cost-USD ${formatUsd(max)} USD; nothing was charged`);
  }
}

/**
 * The request's images: unseeded ones get consecutive seeds from one draw (seed, seed+1, …), and
 * only an explicit seed with no `no-cache`/`no-store` is looked up and merged (docs/cache.md).
 */
function imageJobs(run: GenerationOptions, requests: GenerationRequest[]): ImageJob[] {
  const firstDrawn = drawSeedRun(requests.length);
  const { noCache, noStore } = run.directives;
  return requests.map((r, i) => {
    const drawn = r.seed === null;
    return {
      request: { ...r, seed: r.seed ?? firstDrawn + i },
      drawn,
      cacheable: !drawn && !noCache && !noStore,
      generationId: requests.length === 1 ? run.requestId : `${run.requestId}.${i}`,
      id: newId('img'),
    };
  });
}

/**
 * reserve, for the request as a whole: an in-flight slot is for a request that goes to an origin
 * (hits and followers give theirs back, docs/rate-limits.md), and the budget is reserved for every
 * image that goes there, all or nothing. When either is refused, the flights this request leads
 * are handed over so their followers neither wait for it nor behind it.
 */
async function holdAndReserve(run: GenerationOptions, admission: Admission, plans: ImagePlan[], now: number): Promise<void> {
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
