import type { ImageType } from '../domain/image-format';
import { CACHE_PREFIX } from './image-cache';

/**
 * Every generated image is kept in R2 and found by its id, for its tenant only (docs/generation.md).
 * The usage ledger row of the generation names the image's id and the R2 object holding its
 * bytes, with the tenant beside them, so an id never reaches another tenant's image. A cached
 * image's bytes are its cache entry (written once on a miss, not at all on a hit); an image kept
 * out of the cache (`Cache-Control: no-store`) is copied to `images/{tenant}/{id}`. An image
 * lives as long as the object holding it (see the R2 lifecycle rule in the README).
 */
export interface StoredImageMeta {
  requestId: string;
  model: string;
  seed: number;
  width: number;
  height: number;
  origin: string;
}

/** Where an image kept out of the cache is copied. */
export function imageCopyKey(tenantId: string, id: string): string {
  return `images/${tenantId}/${id}`;
}

/** Copies an image that is not in the cache under its tenant; answers the object's key. */
export async function putImageCopy(
  bucket: R2Bucket,
  tenantId: string,
  id: string,
  bytes: Uint8Array,
  contentType: ImageType,
  meta: StoredImageMeta,
): Promise<string> {
  const key = imageCopyKey(tenantId, id);
  await bucket.put(key, bytes, {
    httpMetadata: { contentType },
    customMetadata: {
      request_id: meta.requestId,
      model: meta.model,
      seed: String(meta.seed),
      width: String(meta.width),
      height: String(meta.height),
      origin: meta.origin,
    },
  });
  return key;
}

/** The tenant's image `id`, or null when it has none by that id (or its bytes are gone). */
export async function getImage(db: D1Database, bucket: R2Bucket, tenantId: string, id: string): Promise<R2ObjectBody | null> {
  if (!IMAGE_ID.test(id)) return null;
  const row = await db
    .prepare("SELECT image_key, tenant_id FROM usage_ledger WHERE image_id = ? AND tenant_id = ? AND status = 'ok' LIMIT 1")
    .bind(id, tenantId)
    .first<ImageRow>();
  return row ? imageObject(bucket, row) : null;
}

/**
 * Image `id` whichever tenant made it, for a signed link: the signature names this id, so only the
 * holder of a link the gateway made for it gets here (docs/generation.md, "Image links").
 */
export async function getImageById(db: D1Database, bucket: R2Bucket, id: string): Promise<R2ObjectBody | null> {
  if (!IMAGE_ID.test(id)) return null;
  const row = await db
    .prepare("SELECT image_key, tenant_id FROM usage_ledger WHERE image_id = ? AND status = 'ok' LIMIT 1")
    .bind(id)
    .first<ImageRow>();
  return row ? imageObject(bucket, row) : null;
}

const IMAGE_ID = /^img_[0-9A-Za-z]{10,64}$/;

interface ImageRow {
  image_key: string | null;
  tenant_id: string;
}

async function imageObject(bucket: R2Bucket, { image_key: key, tenant_id: tenantId }: ImageRow): Promise<R2ObjectBody | null> {
  // only this gateway writes these keys; check the place all the same
  if (!key || !(key.startsWith(CACHE_PREFIX) || key.startsWith(imageCopyKey(tenantId, '')))) return null;
  return bucket.get(key);
}
