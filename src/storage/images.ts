import type { ImageType } from '../domain/image-format';
import { CACHE_PREFIX } from './image-cache';

/**
 * Every generated image is kept in R2 under its tenant with an id (CONTRACT §3):
 * `images/{tenant}/{id}`. The tenant is part of the key, so an id alone never reaches another
 * tenant's image.
 *
 * An image that is also in the cache is not written twice: its `images/…` object is an empty
 * reference to the cache entry (metadata `ref`), so a miss writes the bytes once and a hit writes
 * none. Only an image kept out of the cache (`Cache-Control: no-store`) is copied here in full.
 * A referenced image lives as long as its cache entry (the R2 lifecycle rule in the README).
 */
export interface StoredImageMeta {
  requestId: string;
  model: string;
  seed: number;
  width: number;
  height: number;
  origin: string;
}

function imageKey(tenantId: string, id: string): string {
  return `images/${tenantId}/${id}`;
}

function metadata(meta: StoredImageMeta): Record<string, string> {
  return {
    request_id: meta.requestId,
    model: meta.model,
    seed: String(meta.seed),
    width: String(meta.width),
    height: String(meta.height),
    origin: meta.origin,
  };
}

/** Keeps the image's bytes under its tenant. */
export async function putImage(
  bucket: R2Bucket,
  tenantId: string,
  id: string,
  bytes: Uint8Array,
  contentType: ImageType,
  meta: StoredImageMeta,
): Promise<void> {
  await bucket.put(imageKey(tenantId, id), bytes, { httpMetadata: { contentType }, customMetadata: metadata(meta) });
}

/** Keeps the image under its tenant as a reference to the cache entry that holds its bytes. */
export async function putImageRef(
  bucket: R2Bucket,
  tenantId: string,
  id: string,
  cacheObjectKey: string,
  contentType: ImageType,
  meta: StoredImageMeta,
): Promise<void> {
  await bucket.put(imageKey(tenantId, id), new Uint8Array(0), {
    httpMetadata: { contentType },
    customMetadata: { ...metadata(meta), ref: cacheObjectKey },
  });
}

/** The tenant's image `id`, following a reference to the cache; null when there is none. */
export async function getImage(bucket: R2Bucket, tenantId: string, id: string): Promise<R2ObjectBody | null> {
  if (!/^img_[0-9A-Za-z]{10,64}$/.test(id)) return null;
  const object = await bucket.get(imageKey(tenantId, id));
  const ref = object?.customMetadata?.ref;
  if (!object || ref === undefined) return object;
  await object.arrayBuffer();
  // only this gateway writes references, and only to cache entries
  return ref.startsWith(CACHE_PREFIX) ? bucket.get(ref) : null;
}
