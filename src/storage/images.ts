import type { ImageType } from '../domain/image-format';

/**
 * Every generated image is kept in R2 under its tenant (CONTRACT §3): `images/{tenant}/{id}`.
 * The tenant is part of the key, so an id alone never reaches another tenant's image.
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

export async function putImage(
  bucket: R2Bucket,
  tenantId: string,
  id: string,
  bytes: Uint8Array,
  contentType: ImageType,
  meta: StoredImageMeta,
): Promise<void> {
  await bucket.put(imageKey(tenantId, id), bytes, {
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
}

export async function getImage(bucket: R2Bucket, tenantId: string, id: string): Promise<R2ObjectBody | null> {
  if (!/^img_[0-9A-Za-z]{10,64}$/.test(id)) return null;
  return bucket.get(imageKey(tenantId, id));
}
