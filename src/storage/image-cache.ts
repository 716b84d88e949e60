import { cacheKey, scopedCacheName, type CacheScopeRef } from '../domain/cache-key';
import type { SeededRequest } from '../domain/generation-request';
import { sniffImageType, type ImageType } from '../domain/image-format';
import { inspectImage } from '../domain/image-verify';
import { DAY_MS } from '../domain/time';
import type { TenantRecord } from '../domain/tenants';

/**
 * The R2 cache of identical-seed results (docs/cache.md).
 *
 *   cache/t/{tenantId}/{sha256}   a tenant's private entries (the default)
 *   cache/shared/{sha256}         the pool of tenants set to `cache_scope: "shared"`
 *
 * The tenant is in the path, not only in a check, so a private entry cannot be reached from
 * another tenant even by a bug in the caller. Expiry is judged here against the injected clock
 * (an entry older than the reading tenant's `cache_ttl_days` is a miss); the R2 lifecycle rule in
 * the README only reclaims the space of entries nobody can hit any more.
 */
export const CACHE_PREFIX = 'cache/';

export interface CachedImage {
  bytes: Uint8Array;
  contentType: ImageType;
  /** The origin that made the image. */
  origin: string;
}

/** A cache hit: the image, and the R2 object that holds it. */
export type CacheHit = CachedImage & { r2Key: string };

export interface CacheEntryRef {
  /** SHA-256 of the canonical request. */
  hash: string;
  /** The entry's name within its scope (`t/{tenant}/{hash}` or `shared/{hash}`). */
  name: string;
  r2Key: string;
}

export function cacheScopeOf(tenant: TenantRecord): CacheScopeRef {
  return tenant.cacheScope === 'shared' ? { scope: 'shared' } : { scope: 'private', tenantId: tenant.id };
}

/**
 * The pipeline asks for one request's entry several times (lookup, coalescing, store), always with
 * the same request object: its hash is computed once and remembered for as long as the object lives.
 */
const hashes = new WeakMap<SeededRequest, Promise<string>>();

export async function cacheEntryFor(tenant: TenantRecord, request: SeededRequest): Promise<CacheEntryRef> {
  let hashing = hashes.get(request);
  if (!hashing) {
    hashing = cacheKey(request);
    hashes.set(request, hashing);
  }
  const hash = await hashing;
  const name = scopedCacheName(cacheScopeOf(tenant), hash);
  return { hash, name, r2Key: CACHE_PREFIX + name };
}

/** The entry for `request` in the tenant's scope, or null for a miss (absent, expired or not a whole image). */
export async function lookupCached(
  bucket: R2Bucket,
  tenant: TenantRecord,
  request: SeededRequest,
  now: number,
): Promise<CacheHit | null> {
  const { r2Key } = await cacheEntryFor(tenant, request);
  const object = await bucket.get(r2Key);
  if (!object) return null;
  const meta = object.customMetadata ?? {};
  const created = Number(meta.created_ms);
  if (!Number.isFinite(created) || now >= created + tenant.cacheTtlDays * DAY_MS) {
    // read to the end rather than cancelled: a cancelled R2 body is logged as an error by the runtime
    await object.arrayBuffer();
    return null;
  }
  const bytes = new Uint8Array(await object.arrayBuffer());
  // Served bytes must still be the whole image that was stored (docs/cache.md): check its structure
  // again (every PNG CRC, JPEG markers to EOI, the RIFF size), don't trust the entry's metadata.
  const found = inspectImage(bytes);
  if (!found.ok || found.type !== object.httpMetadata?.contentType || String(bytes.length) !== meta.bytes) return null;
  return { bytes, contentType: found.type, origin: meta.origin ?? 'unknown', r2Key };
}

/**
 * Stores a verified image under the request's key in the tenant's scope; a later identical request
 * (or a `no-cache` refresh) replaces it. Answers the R2 key it wrote (the ledger row points the
 * image's id at it), or null when it stored nothing: bytes that are not the image they claim to be
 * never are.
 */
export async function storeCached(
  bucket: R2Bucket,
  tenant: TenantRecord,
  request: SeededRequest,
  image: CachedImage,
  now: number,
): Promise<string | null> {
  if (sniffImageType(image.bytes) !== image.contentType) return null;
  const { r2Key } = await cacheEntryFor(tenant, request);
  // R2 checks the digest on arrival, so a body cut short on the way is refused, not stored.
  const sha256 = await crypto.subtle.digest('SHA-256', image.bytes);
  await bucket.put(r2Key, image.bytes, {
    sha256,
    httpMetadata: { contentType: image.contentType },
    customMetadata: {
      model: request.model,
      seed: String(request.seed),
      width: String(request.width),
      height: String(request.height),
      bytes: String(image.bytes.length),
      created: new Date(now).toISOString(),
      created_ms: String(now),
      origin: image.origin,
      // the start of the prompt, for the console's gallery (docs/console.md); R2 keeps 2 KB of metadata
      prompt: Array.from(request.prompt).slice(0, 200).join(''),
    },
  });
  return r2Key;
}
