import type { AppDeps, Env } from '../env';
import type { Caller } from '../domain/tenants';
import type { SeededRequest } from '../domain/generation-request';
import type { ImageType } from '../domain/image-format';
import type { ModelSpec } from '../domain/models';
import type { Nano } from '../domain/money';
import { ApiError } from '../errors';
import { parseOrigins } from '../origins/config';
import { forward, type ForwardResult } from '../origins/forward';
import type { CacheWord as CacheOutcome } from '../domain/cache-key';
import { recordFree, type LedgerEntry } from '../storage/ledger';
import { release, settle, type ReservationItem } from '../storage/reservations';
import { storeCached, type CacheHit } from '../storage/image-cache';
import { putImageCopy } from '../storage/images';

/*
 * One image's way through the pipeline once its budget is reserved: from an origin (produce) or
 * from the cache (serveFree), kept under its tenant, and charged only when the whole request
 * succeeded (chargeAll). generate.ts decides which way each image goes.
 */

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

/** An image served without an origin call (a cache hit, or a coalesced follower): cost 0, one ledger row. */
export async function serveFree(
  g: GenerationContext,
  id: string,
  request: SeededRequest,
  cached: CacheHit,
  cache: 'hit' | 'coalesced',
  generationId: string,
  now: number,
): Promise<Outcome> {
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
  const entry = { ...ledgerEntry(g, generationId, image, 'ok', now), image: { id, r2Key: cached.r2Key } };
  await recordFree(g.env.DB, g.caller, entry, now);
  return { image };
}

/**
 * A miss: call the origins and keep the image, whose charge chargeAll then settles; or give the
 * reservation back when no image came.
 */
export async function produce(
  g: GenerationContext,
  request: SeededRequest,
  drawn: boolean,
  generationId: string,
  id: string,
  item: ReservationItem,
): Promise<Outcome> {
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
  let r2Key: string;
  try {
    // the bytes are written once: into the cache, or (no-store) as the tenant's own copy
    if (noStore) {
      r2Key = await putImageCopy(g.env.IMAGES, g.caller.tenant.id, id, result.bytes, result.contentType, imageMeta(image, generationId));
    } else {
      const cached = { bytes: result.bytes, contentType: result.contentType, origin: result.origin };
      const stored = await storeCached(g.env.IMAGES, g.caller.tenant, request, cached, g.deps.now());
      if (stored === null) throw new Error(`origin ${result.origin} answered bytes that are not a ${result.contentType}`);
      r2Key = stored;
    }
  } catch (err) {
    await release(g.env.DB, g.caller, item, ledgerEntry(g, generationId, image, 'internal', started), g.deps.now());
    throw err;
  }
  return { image, charge: { item, entry: { ...ledgerEntry(g, generationId, image, 'ok', started), image: { id, r2Key } } } };
}

/**
 * An image in hand, and what it costs once the request as a whole succeeds. Free images (hits,
 * coalesced followers) carry no charge: their ledger rows are written when they are served.
 */
export interface Outcome {
  image: GeneratedImage;
  charge?: { item: ReservationItem; entry: LedgerEntry };
}

/**
 * Settles every image's charge when every image of the request succeeded. When one failed the
 * request fails, and a request that fails costs nothing (CONTRACT §4): the reservations of the
 * images already in hand are given back, their ledger rows saying why.
 */
export async function chargeAll(g: GenerationContext, outcomes: PromiseSettledResult<Outcome>[]): Promise<GeneratedImage[]> {
  const done = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  const now = g.deps.now();
  if (failure) {
    const status = failure.reason instanceof ApiError ? failure.reason.code : 'internal';
    await Promise.all(
      done.map((o) => (o.charge ? release(g.env.DB, g.caller, o.charge.item, { ...o.charge.entry, status, image: undefined }, now) : undefined)),
    );
    throw failure.reason;
  }
  await Promise.all(done.map((o) => (o.charge ? settle(g.env.DB, g.caller, o.charge.item, o.charge.entry, now) : undefined)));
  return done.map((o) => o.image);
}

function imageMeta(image: GeneratedImage, generationId: string) {
  return {
    requestId: generationId,
    model: image.request.model,
    seed: image.request.seed,
    width: image.request.width,
    height: image.request.height,
    origin: image.origin,
  };
}

export function ledgerEntry(
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
