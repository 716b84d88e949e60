import type { AppDeps, Caller, Env } from '../env';
import { drawSeedRun, type GenerationRequest, type SeededRequest } from '../domain/generation-request';
import type { ImageType } from '../domain/image-format';
import { newId } from '../domain/keys';
import type { ModelSpec } from '../domain/models';
import { formatUsd, type Nano } from '../domain/money';
import { priceOf } from '../domain/pricing';
import { ApiError } from '../errors';
import { parseOrigins } from '../origins/config';
import { forward, type ForwardResult } from '../origins/forward';
import {
  budgetRemaining,
  recordFree,
  release,
  reserve,
  settle,
  type CacheOutcome,
  type LedgerEntry,
  type ReservationItem,
} from '../storage/budget-ledger';
import { lookupCached, storeCached, type CachedImage } from '../storage/image-cache';
import { putImage } from '../storage/images';
import { finishFlight, followerError, joinFlight, leadFlight, waitFlight, type Flight } from './coalescing';
import { admit } from './rate-limit';

/** `Cache-Control` directives a client may send on a generation (CONTRACT §6). */
export interface CacheDirectives {
  noCache: boolean;
  noStore: boolean;
}

export function cacheDirectives(header: string | undefined): CacheDirectives {
  const parts = (header ?? '').toLowerCase().split(',').map((p) => p.trim());
  return { noCache: parts.includes('no-cache'), noStore: parts.includes('no-store') };
}

export interface GenerationContext {
  env: Env;
  deps: AppDeps;
  requestId: string;
  caller: Caller;
  spec: ModelSpec;
  directives: CacheDirectives;
  waitUntil: (promise: Promise<unknown>) => void;
  /** Fields for the request's log line. */
  log: Record<string, unknown>;
}

export interface GeneratedImage {
  /** The image's id: `GET /v1/images/{id}` serves it to this tenant. */
  id: string;
  request: SeededRequest;
  bytes: Uint8Array;
  contentType: ImageType;
  cache: CacheOutcome;
  /** RFC 9211 Cache-Status member for this image. */
  cacheStatus: string;
  costNano: Nano;
  /** The origin's name, or `cache`. */
  origin: string;
}

export interface GenerationResult {
  images: GeneratedImage[];
  costNano: Nano;
  /** Headers every generation answer carries besides the per-image ones. */
  headers: Record<string, string>;
}

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

    // 2. identical requests in flight merge (CONTRACT §6): a cacheable miss joins its key's Coalescer;
    //    a follower reserves nothing now, it waits for the leader's image
    const flights: (Flight | null)[] = await Promise.all(
      seeded.map(async ({ request }, i) => {
        if (!cacheable[i] || hits[i]) return null;
        const flight = await joinFlight(g.env, g.caller.tenant, request, generationIds[i] ?? g.requestId);
        if (flight?.role !== 'leader') return flight;
        // a leader that just finished may have stored the entry between the lookup and the join
        const late = await lookupCached(g.env.IMAGES, g.caller.tenant, request, now);
        if (!late) return flight;
        hits[i] = late;
        await finishFlight(flight, { kind: 'ready' });
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
      else g.waitUntil(admission.release());
      await reserveAll(g, items.filter((x): x is ReservationItem => x !== null), now);
    } catch (err) {
      // this request will not go to the origin: its followers must not wait for it, nor wait behind it
      await Promise.all(flights.map((f) => finishFlight(f, { kind: 'handover' })));
      throw err;
    }

    // 4. origin (or cache, or the leader's image) for each image
    const images = await Promise.all(
      seeded.map(async ({ request, drawn }, i) => {
        const generationId = generationIds[i] ?? g.requestId;
        const hit = hits[i];
        const item = items[i];
        const id = newId('img');
        if (hit) return serveFree(g, id, request, hit, 'hit', generationId, now);
        const flight = flights[i] ?? null;
        if (flight?.role === 'follower') return follow(g, request, flight, generationId, id);
        if (!item) throw new Error('a miss without a reservation');
        return leadFlight(flight, () => produce(g, request, drawn, generationId, id, item));
      }),
    );
    const costNano = images.reduce((sum, img) => sum + img.costNano, 0n);
    const headers: Record<string, string> = { ...admission.headers };
    const remaining = await budgetRemaining(g.env.DB, g.caller, g.deps.now());
    if (remaining !== null) headers['Imagegate-Budget-Remaining-USD'] = formatUsd(remaining < 0n ? 0n : remaining);
    return { images, costNano, headers };
  } finally {
    g.waitUntil(admission.release());
  }
}

/** An image served without an origin call (a cache hit, or a coalesced follower): cost 0, one ledger row. */
async function serveFree(
  g: GenerationContext,
  id: string,
  request: SeededRequest,
  cached: CachedImage,
  cache: 'hit' | 'coalesced',
  generationId: string,
  now: number,
): Promise<GeneratedImage> {
  const image: GeneratedImage = {
    id,
    request,
    bytes: cached.bytes,
    contentType: cached.contentType,
    cache,
    // RFC 9211: served from this cache; `detail` says it was another request's fresh answer
    cacheStatus: cache === 'hit' ? 'imagegate; hit' : 'imagegate; hit; detail=coalesced',
    costNano: 0n,
    origin: 'cache',
  };
  await Promise.all([keepImage(g, image, generationId), recordFree(g.env.DB, g.caller, ledgerEntry(g, generationId, image, 'ok', now), now)]);
  return image;
}

function reservationItem(g: GenerationContext, request: SeededRequest, generationId: string): ReservationItem {
  return { generationId, costNano: priceOf(g.spec, request), request };
}

/** Reserves every item at once, or throws the 402 naming the budget that is short. */
async function reserveAll(g: GenerationContext, items: ReservationItem[], now: number): Promise<void> {
  if (items.length === 0) return;
  const reserved = await reserve(g.env.DB, g.caller, items, now);
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
async function follow(g: GenerationContext, request: SeededRequest, flight: Flight, generationId: string, id: string): Promise<GeneratedImage> {
  const waited = await waitFlight(flight);
  if (waited.outcome === 'failed') {
    // the leader's origin failed: this generation ends without an image, uncharged, and the ledger says so
    const error = followerError(waited);
    const entry = ledgerEntry(g, generationId, { request, cache: 'coalesced', origin: null }, error.code, g.deps.now());
    await recordFree(g.env.DB, g.caller, entry, g.deps.now());
    throw error;
  }
  if (waited.outcome !== 'lead') {
    const now = g.deps.now();
    const cached = await lookupCached(g.env.IMAGES, g.caller.tenant, request, now);
    if (cached) return serveFree(g, id, request, cached, 'coalesced', generationId, now);
    if (waited.outcome === 'timeout') {
      throw new ApiError('origin_timeout', 'an identical request at the origin did not finish in time; nothing was charged');
    }
  }
  // leading now (or the leader's entry is not there): this request goes to the origin on its own budget
  const item = reservationItem(g, request, generationId);
  try {
    await reserveAll(g, [item], g.deps.now());
  } catch (err) {
    await finishFlight(flight, { kind: 'handover' });
    throw err;
  }
  return leadFlight(waited.outcome === 'lead' ? flight : null, () => produce(g, request, false, generationId, id, item));
}

/** A miss: call the origins, keep the image, charge for it; or give the reservation back. */
async function produce(
  g: GenerationContext,
  request: SeededRequest,
  drawn: boolean,
  generationId: string,
  id: string,
  item: ReservationItem,
): Promise<GeneratedImage> {
  const started = g.deps.now();
  const origins = parseOrigins(g.env.ORIGINS);
  const result: ForwardResult = origins.ok
    ? await forward(origins.origins, request, { requestId: generationId, env: g.env, now: g.deps.now })
    : { ok: false, code: 'origin_error', message: 'the gateway has no valid origin configuration', attempts: [] };
  if (!origins.ok) console.error(JSON.stringify({ level: 'error', request_id: g.requestId, message: origins.message }));
  g.log.attempts = [...((g.log.attempts as unknown[] | undefined) ?? []), ...result.attempts];
  // CONTRACT §3: a no-cache or no-store request is a `miss`; an unseeded one otherwise `bypass`
  const cache: CacheOutcome = drawn && !g.directives.noCache && !g.directives.noStore ? 'bypass' : 'miss';
  if (!result.ok) {
    const called = result.attempts.filter((a) => a.outcome !== 'breaker_open' && a.outcome !== 'unsupported').at(-1);
    const failed = ledgerEntry(g, generationId, { request, cache, origin: called?.origin ?? null }, result.code, started);
    await release(g.env.DB, g.caller, item, failed, g.deps.now());
    throw new ApiError(result.code, result.message, {
      ...(result.retryAfterSeconds ? { headers: { 'Retry-After': String(result.retryAfterSeconds) } } : {}),
    });
  }
  const { noCache, noStore } = g.directives;
  const image: GeneratedImage = {
    id,
    request,
    bytes: result.bytes,
    contentType: result.contentType,
    cache,
    cacheStatus: noStore
      ? 'imagegate; fwd=request'
      : noCache
        ? 'imagegate; fwd=request; stored'
        : drawn
          ? 'imagegate; fwd=bypass; stored'
          : 'imagegate; fwd=miss; stored',
    costNano: item.costNano,
    origin: result.origin,
  };
  await Promise.all([
    noStore
      ? Promise.resolve()
      : storeCached(g.env.IMAGES, g.caller.tenant, request, { bytes: result.bytes, contentType: result.contentType, origin: result.origin }, g.deps.now()),
    keepImage(g, image, generationId),
    settle(g.env.DB, g.caller, item, ledgerEntry(g, generationId, image, 'ok', started), g.deps.now()),
  ]);
  return image;
}

function keepImage(g: GenerationContext, image: GeneratedImage, generationId: string): Promise<void> {
  return putImage(g.env.IMAGES, g.caller.tenant.id, image.id, image.bytes, image.contentType, {
    requestId: generationId,
    model: image.request.model,
    seed: image.request.seed,
    width: image.request.width,
    height: image.request.height,
    origin: image.origin,
  });
}

function ledgerEntry(
  g: GenerationContext,
  generationId: string,
  image: Pick<GeneratedImage, 'request' | 'cache' | 'origin'> | { request: SeededRequest; cache: CacheOutcome; origin: string | null },
  status: string,
  started: number,
): LedgerEntry {
  return {
    generationId,
    requestId: g.requestId,
    request: image.request,
    cache: image.cache,
    origin: image.origin,
    status,
    latencyMs: Math.max(0, g.deps.now() - started),
  };
}
