import type { CacheWord } from '../../domain/cache-key';
import { priceOf } from '../../domain/pricing';
import type { LedgerEntry } from '../../storage/ledger';
import type { GenerationOptions, ImageJob } from './types';

export interface LedgerEntryOptions {
  run: GenerationOptions;
  job: ImageJob;
  cache: CacheWord;
  /** The origin that made (or failed to make) the image, `cache`, or null when none was called. */
  origin: string | null;
  /** `ok`, or the failure code the generation ended with. */
  status: string;
  /** When this image's work started, for the row's latency. */
  started: number;
}

/**
 * One image's row of the usage ledger (docs/money.md), with its tags, its price version and its
 * list cost (what it costs at the origin: what a cache hit or a merged follower saved).
 */
export function ledgerEntry({ run, job, cache, origin, status, started }: LedgerEntryOptions): LedgerEntry {
  return {
    generationId: job.generationId,
    requestId: run.requestId,
    request: job.request,
    cache,
    origin,
    status,
    latencyMs: Math.max(0, run.deps.now() - started),
    priceVersion: run.spec.priceVersion,
    listCostNano: priceOf(run.spec, job.request),
    tags: run.tags ?? {},
  };
}

/** What the cache did for an image that went to an origin: `bypass` when its seed was drawn and nothing disabled the cache, else `miss`. */
export function originCacheWord(run: GenerationOptions, job: ImageJob): CacheWord {
  return job.drawn && !run.directives.noCache && !run.directives.noStore ? 'bypass' : 'miss';
}
