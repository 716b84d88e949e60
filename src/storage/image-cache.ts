import type { SeededRequest } from '../domain/generation-request';
import type { ImageType } from '../domain/image-format';
import type { TenantRecord } from './tenants';

export interface CachedImage {
  bytes: Uint8Array;
  contentType: ImageType;
  origin: string;
}

/** The R2 cache of identical-seed results (CONTRACT §6). */
export async function lookupCached(
  _bucket: R2Bucket,
  _tenant: TenantRecord,
  _request: SeededRequest,
  _now: number,
): Promise<CachedImage | null> {
  return null;
}

export async function storeCached(
  _bucket: R2Bucket,
  _tenant: TenantRecord,
  _request: SeededRequest,
  _image: CachedImage,
  _now: number,
): Promise<void> {}
