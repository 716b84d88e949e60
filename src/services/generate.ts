import type { AppDeps, Caller, Env } from '../env';
import { drawSeed, type GenerationRequest, type SeededRequest } from '../domain/generation-request';
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
import { lookupCached, storeCached } from '../storage/image-cache';
import { putImage } from '../storage/images';
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
  const admission = await admit({ env: g.env, caller: g.caller, requestId: g.requestId, now });
  try {
    const seeded = requests.map((r) => ({ request: { ...r, seed: r.seed ?? drawSeed() }, drawn: r.seed === null }));
    const generationIds = seeded.map((_, i) => (seeded.length === 1 ? g.requestId : `${g.requestId}.${i}`));

    // 1. cache: only a request with an explicit seed, and no Cache-Control that says otherwise, is looked up
    const hits = await Promise.all(
      seeded.map(({ request, drawn }) =>
        drawn || g.directives.noCache || g.directives.noStore ? null : lookupCached(g.env.IMAGES, g.caller.tenant, request, now),
      ),
    );

    // 2. budget: reserve what the misses cost, all or nothing
    const items: (ReservationItem | null)[] = seeded.map(({ request }, i) =>
      hits[i] ? null : { generationId: generationIds[i] ?? g.requestId, costNano: priceOf(g.spec, request) },
    );
    const toReserve = items.filter((x): x is ReservationItem => x !== null);
    if (toReserve.length > 0) {
      const reserved = await reserve(g.env.DB, g.caller, toReserve, now);
      if (!reserved.ok) {
        const total = toReserve.reduce((sum, item) => sum + item.costNano, 0n);
        const who = reserved.scope === 'key' ? `key '${reserved.name}'` : `tenant '${reserved.name}'`;
        throw new ApiError(
          'budget_exceeded',
          `${who} has ${formatUsd(reserved.remainingNano)} USD left ${reserved.period}; this request costs ${formatUsd(total)} USD`,
        );
      }
    }

    // 3. origin (or cache) for each image
    const images = await Promise.all(
      seeded.map(async ({ request, drawn }, i) => {
        const generationId = generationIds[i] ?? g.requestId;
        const hit = hits[i];
        const item = items[i];
        const id = newId('img');
        if (hit) {
          const image: GeneratedImage = {
            id,
            request,
            bytes: hit.bytes,
            contentType: hit.contentType,
            cache: 'hit',
            cacheStatus: 'imagegate; hit',
            costNano: 0n,
            origin: 'cache',
          };
          await Promise.all([
            keepImage(g, image, generationId),
            recordFree(g.env.DB, g.caller, ledgerEntry(g, generationId, image, 'ok', now), now),
          ]);
          return image;
        }
        if (!item) throw new Error('a miss without a reservation');
        return produce(g, request, drawn, generationId, id, item);
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
  const cache: CacheOutcome = drawn ? 'bypass' : 'miss';
  if (!result.ok) {
    const failed = ledgerEntry(g, generationId, { request, cache, origin: result.attempts.at(-1)?.origin ?? null }, result.code, started);
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
