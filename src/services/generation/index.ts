import { drawSeedRun, type GenerationRequest } from '../../domain/generation-request';
import { fail, Failed } from '../../domain/failure';
import { newId } from '../../domain/keys';
import { formatUsd, type Nano } from '../../domain/money';
import { listPriceOf } from '../../domain/pricing';
import { budgetRemaining } from '../../storage/budget-snapshot';
import type { CacheHit } from '../../storage/image-cache';
import { admit, type Admission } from '../rate-limit';
import { charge, runImage, type ImagePlan } from './image-steps';
import { lookup } from './lookup';
import { planImages } from './plan';
import type { GenerationOptions, GenerationResult, ImageJob } from './types';

export type { GeneratedImage, GenerationOptions, GenerationResult, ImageJob } from './types';

/*
 * The generation pipeline (docs/generation.md, and the README's "Design"). One request makes one
 * or more images; each image goes its own way through named steps, each in its own file:
 *
 *   (admit ‖ lookup) → (join ‖ reserve) → fetch | wait → store → charge
 *
 * lookup (cache), join (merge with an identical request in flight), reserve (budget, all images of
 * the request at once), fetch (origins) or wait (for the identical request's leader), store (R2),
 * charge (settle every image's reservation once all are in hand, or give them all back). Steps
 * joined by ‖ run at the same time: neither needs the other's answer (plan.ts says why join and
 * reserve may), so each pair costs one storage round trip where it cost two.
 */

/**
 * Runs a request's generations: admits it against the rate limits while its images are looked up,
 * plans each image (join ‖ reserve), runs each image to its end and charges the request as a
 * whole. Refusals and failures are thrown as `Failed`.
 */
export async function generate(run: GenerationOptions, requests: GenerationRequest[]): Promise<GenerationResult> {
  checkMaxCost(run, requests);
  const now = run.deps.now();
  const jobs = imageJobs(run, requests);
  const { admission, cached } = await admitAndLookUp(run, jobs, now);
  try {
    const plans = await planImages({ run, admission, jobs, cached, now });
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
 * admit ‖ lookup: the rate limiter (a Durable Object) and the cache (R2) answer independently, and
 * a lookup only reads, so they run at once. A refusal still answers 429 and charges nothing: no
 * ledger row, reservation or join comes before both are in. The request counts against its limits
 * exactly as when admit came first, a hit included, since admit is asked the same question; and
 * when both fail, the admission's failure is the answer, as it was.
 */
async function admitAndLookUp(run: GenerationOptions, jobs: ImageJob[], now: number): Promise<{ admission: Admission; cached: (CacheHit | null)[] }> {
  const mayHitCache = jobs.some((j) => j.cacheable);
  const [admitted, looked] = await Promise.allSettled([
    admit({ env: run.env, caller: run.caller, requestId: run.requestId, now, mayHitCache }),
    Promise.all(jobs.map((job) => lookup({ run, job, now }))),
  ]);
  if (admitted.status === 'rejected') throw admitted.reason;
  if (looked.status === 'rejected') {
    run.waitUntil(admitted.value.release());
    throw looked.reason;
  }
  return { admission: admitted.value, cached: looked.value };
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
