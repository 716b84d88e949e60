import type { CacheDirectives, CacheWord } from '../../domain/cache-key';
import type { RateLimitReport } from '../../domain/failure';
import type { SeededRequest } from '../../domain/generation-request';
import type { ImageType } from '../../domain/image-format';
import type { ModelSpec } from '../../domain/models';
import type { Nano } from '../../domain/money';
import type { Tags } from '../../domain/tags';
import type { Caller } from '../../domain/tenants';
import type { AppDeps, Env } from '../../env';

/** Everything a generation request brings to the pipeline; every step takes it as `run`. */
export interface GenerationOptions {
  env: Env;
  deps: AppDeps;
  requestId: string;
  caller: Caller;
  spec: ModelSpec;
  directives: CacheDirectives;
  /** The tags every ledger row of the request carries (docs/money.md); none when absent. */
  tags?: Tags;
  /** `Imagegate-Max-Cost-USD`: the most the client lets the request cost; null or absent for no ceiling. */
  maxCostNano?: Nano | null;
  waitUntil: (promise: Promise<unknown>) => void;
  /** Fields for the request's log line. */
  log: Record<string, unknown>;
}

/** One image of a request on its way through the steps. */
export interface ImageJob {
  /** The request with its seed: the client's, or drawn by the gateway. */
  request: SeededRequest;
  /** The gateway drew the seed. */
  drawn: boolean;
  /** Looked up in the cache and merged with identical requests in flight (an explicit seed, no no-cache/no-store). */
  cacheable: boolean;
  /** The generation's id: the request id, or `req_….{i}` for image i of several (the origin's X-Request-Id). */
  generationId: string;
  /** The image's id: `GET /v1/images/{id}` serves it to this tenant. */
  id: string;
}

export interface GeneratedImage {
  id: string;
  request: SeededRequest;
  drawn: boolean;
  bytes: Uint8Array;
  contentType: ImageType;
  cache: CacheWord;
  costNano: Nano;
  /** The origin's name, or `cache`. */
  origin: string;
}

export interface GenerationResult {
  images: GeneratedImage[];
  costNano: Nano;
  /** The rate limits as they stand after admitting this request; null when nothing limits the caller. */
  rateLimit: RateLimitReport | null;
  /** The smaller of what the key and its tenant have left; null when neither has a budget. */
  budgetRemainingNano: Nano | null;
}
