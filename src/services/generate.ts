import { drawSeedRun, type GenerationRequest, type SeededRequest } from '../domain/generation-request';
import { newId } from '../domain/keys';
import { requestLifetimes } from '../domain/lifetimes';
import { atLeastZero, formatUsd } from '../domain/money';
import { priceOf } from '../domain/pricing';
import { ApiError } from '../errors';
import { originDeadlineMs } from '../origins/config';
import { budgetRemaining } from '../storage/budget-snapshot';
import { recordFree } from '../storage/ledger';
import { reserve, type ReservationItem } from '../storage/reservations';
import { lookupCached } from '../storage/image-cache';
import { finishFlight, followerError, joinFlight, leadFlight, rejoinFlight, waitFlight, type Flight } from './coalescing';
import {
  chargeAll,
  ledgerEntry,
  produce,
  serveFree,
  type GenerationContext,
  type GenerationResult,
  type Outcome,
} from './image-outcome';
import { admit, type Admission } from './rate-limit';

export { cacheDirectives, type CacheDirectives, type GeneratedImage, type GenerationContext, type GenerationResult } from './image-outcome';

/**
 * Runs one or more generations for one HTTP request, in the contract's order: rate limit → cache
 * → budget → origin (CONTRACT §5). Budget for every image that must go to an origin is reserved
 * at once, all or nothing, before any origin is called.
 */
export async function generate(g: GenerationContext, requests: GenerationRequest[]): Promise<GenerationResult> {
  const now = g.deps.now();
  const mayHitCache = requests.some((r) => r.seed !== null) && !g.directives.noCache && !g.directives.noStore;
  const admission = await admit({ env: g.env, caller: g.caller, requestId: g.requestId, now, mayHitCache });
  try {
    // requests without a seed get consecutive ones from one draw (CONTRACT §3: seeds seed, seed+1, …)
    const firstDrawn = drawSeedRun(requests.length);
    const seeded = requests.map((r, i) => ({ request: { ...r, seed: r.seed ?? firstDrawn + i }, drawn: r.seed === null }));
    const generationIds = seeded.map((_, i) => (seeded.length === 1 ? g.requestId : `${g.requestId}.${i}`));

    // 1. cache: only a request with an explicit seed, and no Cache-Control that says otherwise, is looked up
    const cacheable = seeded.map(({ drawn }) => !drawn && !g.directives.noCache && !g.directives.noStore);
    const hits = await Promise.all(
      seeded.map(({ request }, i) => (cacheable[i] ? lookupCached(g.env.IMAGES, g.caller.tenant, request, now) : null)),
    );

    // 2. identical requests in flight merge (CONTRACT §6): a cacheable miss joins its key's flight in
    //    the Coalescer; a follower reserves nothing now, it waits for the leader's image
    const flights: (Flight | null)[] = await Promise.all(
      seeded.map(async ({ request }, i) => {
        if (!cacheable[i] || hits[i]) return null;
        const joined = await joinFlight(g.env, g.caller.tenant, request, generationIds[i] ?? g.requestId);
        if (joined?.role !== 'ready') return joined;
        // the flight stored its image between this request's lookup and its join: read it again
        const late = await lookupCached(g.env.IMAGES, g.caller.tenant, request, now);
        if (!late) return rejoinFlight(joined);
        hits[i] = late;
        return null;
      }),
    );

    // 3. budget: reserve what the leaders' and uncached misses cost, all or nothing
    const items: (ReservationItem | null)[] = seeded.map(({ request }, i) =>
      hits[i] || flights[i]?.role === 'follower' ? null : reservationItem(g, request, generationIds[i] ?? g.requestId),
    );
    try {
      // an in-flight slot is for a request that goes to an origin: hits and followers give theirs back (CONTRACT §5)
      if (items.some((x) => x !== null)) await admission.holdSlot(g.deps.now());
      // awaited, not left to waitUntil: a follower that later leads takes a slot again (holdSlot)
      else await admission.release();
      await reserveAll(g, items.filter((x): x is ReservationItem => x !== null), now);
    } catch (err) {
      // this request will not go to the origin: its followers must not wait for it, nor wait behind it
      await Promise.all(flights.map((f) => finishFlight(f, { kind: 'handover' })));
      throw err;
    }

    // 4. origin (or cache, or the leader's image) for each image; charges wait until every image is in hand
    const outcomes = await Promise.allSettled(
      seeded.map(async ({ request, drawn }, i): Promise<Outcome> => {
        const generationId = generationIds[i] ?? g.requestId;
        const hit = hits[i];
        const item = items[i];
        const id = newId('img');
        if (hit) return serveFree(g, id, request, hit, 'hit', generationId, now);
        const flight = flights[i] ?? null;
        if (flight?.role === 'follower') return follow(g, admission, request, flight, generationId, id);
        if (!item) throw new Error('a miss without a reservation');
        return leadFlight(flight, () => produce(g, request, drawn, generationId, id, item));
      }),
    );
    const images = await chargeAll(g, outcomes);
    const costNano = images.reduce((sum, img) => sum + img.costNano, 0n);
    const headers: Record<string, string> = { ...admission.headers };
    const remaining = await budgetRemaining(g.env.DB, g.caller, g.deps.now());
    if (remaining !== null) headers['Imagegate-Budget-Remaining-USD'] = formatUsd(atLeastZero(remaining));
    return { images, costNano, headers };
  } finally {
    g.waitUntil(admission.release());
  }
}


function reservationItem(g: GenerationContext, request: SeededRequest, generationId: string): ReservationItem {
  return { generationId, costNano: priceOf(g.spec, request), request };
}

/** Reserves every item at once, or throws the 402 naming the budget that is short. */
async function reserveAll(g: GenerationContext, items: ReservationItem[], now: number): Promise<void> {
  if (items.length === 0) return;
  const reserved = await reserve(g.env.DB, g.caller, items, now, requestLifetimes(originDeadlineMs(g.env)).reservationMs);
  if (reserved.ok) return;
  const total = items.reduce((sum, item) => sum + item.costNano, 0n);
  const who = reserved.scope === 'key' ? `key '${reserved.name}'` : `tenant '${reserved.name}'`;
  throw new ApiError(
    'budget_exceeded',
    `${who} has ${formatUsd(reserved.remainingNano)} USD left ${reserved.period}; this request costs ${formatUsd(total)} USD`,
  );
}

/**
 * A follower: waits for the identical request in flight and serves its stored image at no cost.
 * When the leader gave up (or vanished), this request leads instead and reserves its own budget;
 * when the origin failed the leader, it fails the same way, uncharged.
 */
async function follow(
  g: GenerationContext,
  admission: Admission,
  request: SeededRequest,
  flight: Flight,
  generationId: string,
  id: string,
): Promise<Outcome> {
  const waited = await waitFlight(flight);
  // the leader's origin failed, or it never finished: this generation ends without an image,
  // uncharged, and the ledger says so
  const fail = async (error: ApiError): Promise<never> => {
    const entry = ledgerEntry(g, generationId, { request, cache: 'coalesced', origin: null }, error.code, g.deps.now());
    await recordFree(g.env.DB, g.caller, entry, g.deps.now());
    throw error;
  };
  if (waited.outcome === 'failed') return fail(followerError(waited));
  if (waited.outcome !== 'lead') {
    const now = g.deps.now();
    const cached = await lookupCached(g.env.IMAGES, g.caller.tenant, request, now);
    if (cached) return serveFree(g, id, request, cached, 'coalesced', generationId, now);
    if (waited.outcome === 'timeout') {
      return fail(new ApiError('origin_timeout', 'an identical request at the origin did not finish in time; nothing was charged'));
    }
  }
  // leading now (or the leader's entry is not there): this request goes to the origin, with an
  // in-flight slot (CONTRACT §5) and on its own budget
  const item = reservationItem(g, request, generationId);
  try {
    await admission.holdSlot(g.deps.now());
    await reserveAll(g, [item], g.deps.now());
  } catch (err) {
    await finishFlight(flight, { kind: 'handover' });
    throw err;
  }
  return leadFlight(waited.outcome === 'lead' ? flight : null, () => produce(g, request, false, generationId, id, item));
}

