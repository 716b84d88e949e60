import type { SeededRequest } from './generation-request';
import { sha256Hex } from './sha256';

/**
 * Bumped whenever the canonical form changes, so entries written under an old form are never read
 * as if they answered a new one.
 */
const CANONICAL_VERSION = 'imagegate.cache.v1';

/**
 * The canonical form of everything that shapes the pixels (docs/cache.md): a JSON array in a fixed
 * order, built from a SeededRequest (whose defaults are already written out). Field order, left-out
 * defaults and JSON spacing in the client's body therefore cannot change it; any difference in a
 * pixel-shaping field does. Neither the route nor the tenant is part of it: the same image through
 * either generation route is one entry, and the tenant scope lives in the storage path instead.
 */
export function canonicalRequest(request: SeededRequest): string {
  return JSON.stringify([
    CANONICAL_VERSION,
    request.model,
    request.prompt,
    request.negative_prompt,
    request.width,
    request.height,
    request.steps,
    // JSON.stringify prints a number the shortest way that reads back the same (7.5, 7.50 and 75e-1 are one value)
    request.cfg,
    request.seed,
    request.output_format,
  ]);
}

/** SHA-256 of the canonical request, as 64 lowercase hex digits. */
export function cacheKey(request: SeededRequest): Promise<string> {
  return sha256Hex(canonicalRequest(request));
}

/** Where an entry lives: per tenant by default, or in the pool shared by tenants set to `shared`. */
export type CacheScopeRef = { scope: 'private'; tenantId: string } | { scope: 'shared' };

/**
 * The entry's name within its scope: the R2 key below `cache/`. Within the scope's Coalescer shard
 * (`coalescerShardName`) the hash names the flight, so two requests merge exactly when they would
 * read and write the same entry.
 */
export function scopedCacheName(scope: CacheScopeRef, hash: string): string {
  return `${scopeName(scope)}/${hash}`;
}

/**
 * The Coalescer object (`idFromName`) that holds the flights of `hash`: one of 16 per scope, by the
 * hash's first hex digit. Per scope, so a private tenant's flights never share an object with
 * another tenant's; sharded, so a scope's misses reuse a few warm objects rather than creating one
 * per distinct request, and a busy scope is not one object's queue.
 */
export function coalescerShardName(scope: CacheScopeRef, hash: string): string {
  return `${scopeName(scope)}#${hash.slice(0, 1)}`;
}

function scopeName(scope: CacheScopeRef): string {
  return scope.scope === 'shared' ? 'shared' : `t/${scope.tenantId}`;
}

/** `Cache-Control` directives a client may send on a generation (docs/cache.md). */
export interface CacheDirectives {
  /** Skip the lookup, store the fresh result. */
  noCache: boolean;
  /** Neither look up nor store. */
  noStore: boolean;
}

/**
 * What the cache did for one image, as answers and the ledger say it: `hit` (served from the
 * cache), `coalesced` (an identical request in flight made it), `miss` (looked up, not found, or a
 * `no-cache`/`no-store` request), `bypass` (no seed given, so not looked up).
 */
export const CACHE_WORDS = ['hit', 'miss', 'bypass', 'coalesced'] as const;
export type CacheWord = (typeof CACHE_WORDS)[number];
