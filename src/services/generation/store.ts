import { Failed } from '../../domain/failure';
import { release, type ReservationItem } from '../../storage/reservations';
import { cacheEntryFor, storeCached } from '../../storage/image-cache';
import { imageCopyKey, putImageCopy } from '../../storage/images';
import type { OriginImage } from './fetch';
import { ledgerEntry, originCacheWord } from './ledger-entry';
import type { GenerationOptions, ImageJob } from './types';

export interface StoreOptions {
  run: GenerationOptions;
  job: ImageJob;
  image: OriginImage;
  item: ReservationItem;
  started: number;
}

/**
 * Step 5, store: the image's bytes are written once, into the cache (docs/cache.md), or with
 * `no-store` as the tenant's own copy; either way `GET /v1/images/{id}` finds them through the
 * ledger row. Answers the R2 key. When the write fails the reservation is given back and the image fails;
 * the ledger row (not `ok`, so it serves nothing) names the object all the same, since a write that
 * timed out may still land in R2 after the request gave up on it.
 */
export async function store({ run, job, image, item, started }: StoreOptions): Promise<string> {
  try {
    if (run.directives.noStore) {
      const meta = { requestId: job.generationId, ...job.request, origin: image.origin };
      return await putImageCopy(run.env.IMAGES, run.caller.tenant.id, job.id, image.bytes, image.contentType, meta);
    }
    const r2Key = await storeCached(run.env.IMAGES, run.caller.tenant, job.request, image, run.deps.now());
    // storage refuses bytes that are not the image they claim to be; the origins' checks make that a bug
    if (r2Key === null) throw new Error(`the cache refused the image of ${job.generationId}`);
    return r2Key;
  } catch (err) {
    const status = err instanceof Failed ? err.failure.code : 'internal';
    const r2Key = run.directives.noStore ? imageCopyKey(run.caller.tenant.id, job.id) : (await cacheEntryFor(run.caller.tenant, job.request)).r2Key;
    const entry = { ...ledgerEntry({ run, job, cache: originCacheWord(run, job), origin: image.origin, status, started }), image: { id: job.id, r2Key } };
    await release(run.env.DB, run.caller, item, entry, run.deps.now());
    throw err;
  }
}
