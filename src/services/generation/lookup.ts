import { lookupCached, type CacheHit } from '../../storage/image-cache';
import type { GenerationOptions, ImageJob } from './types';

export interface LookupOptions {
  run: GenerationOptions;
  job: ImageJob;
  now: number;
}

/**
 * Step 1, lookup: a cacheable image is looked up in its tenant's cache scope (docs/cache.md);
 * anything else (no seed given, `no-cache`, `no-store`) never is.
 */
export async function lookup({ run, job, now }: LookupOptions): Promise<CacheHit | null> {
  if (!job.cacheable) return null;
  return lookupCached(run.env.IMAGES, run.caller.tenant, job.request, now);
}
