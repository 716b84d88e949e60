import type { Failure } from '../../domain/failure';
import { Failed } from '../../domain/failure';
import type { ImageType } from '../../domain/image-format';
import { log } from '../../log';
import { configProblems, parseOrigins } from '../../origins/config';
import { forward, type ForwardFailureKind, type ForwardResult } from '../../origins/forward';
import { release, type ReservationItem } from '../../storage/reservations';
import { INVALID_ORIGIN_CONFIG } from '../gateway-problems';
import { ledgerEntry, originCacheWord } from './ledger-entry';
import type { GenerationOptions, ImageJob } from './types';

/** An image in hand from an origin, not yet stored or charged. */
export interface OriginImage {
  bytes: Uint8Array;
  contentType: ImageType;
  origin: string;
}

export interface FetchOptions {
  run: GenerationOptions;
  job: ImageJob;
  /** What the image holds of the budgets; given back when no image comes. */
  item: ReservationItem;
  started: number;
}

/**
 * Step 4, fetch: the origins that serve the model are tried in order (docs/origins.md). When none
 * gives an image, the reservation is given back with a ledger row saying why, and the image fails.
 */
export async function fetchImage({ run, job, item, started }: FetchOptions): Promise<OriginImage> {
  const result = await callOrigins(run, job);
  run.log.attempts = [...((run.log.attempts as unknown[] | undefined) ?? []), ...result.attempts];
  if (result.ok) return { bytes: result.bytes, contentType: result.contentType, origin: result.origin };
  const called = result.attempts.filter((a) => a.outcome !== 'breaker_open' && a.outcome !== 'unsupported').at(-1);
  const failure = originFailure(result.kind, result.message, result.retryAfterSeconds);
  const entry = ledgerEntry({ run, job, cache: originCacheWord(run, job), origin: called?.origin ?? null, status: failure.code, started });
  await release(run.env.DB, run.caller, item, entry, run.deps.now());
  throw new Failed(failure);
}

async function callOrigins(run: GenerationOptions, job: ImageJob): Promise<ForwardResult> {
  // the routes refuse a broken configuration up front (requireOriginConfig); this keeps a caller that
  // did not from sending a request with no credential (an api_key_secret naming an unset variable)
  const problems = configProblems(run.env);
  const origins = parseOrigins(run.env.ORIGINS);
  if (origins.ok && problems.length === 0) return forward(origins.origins, job.request, { requestId: job.generationId, env: run.env, now: run.deps.now });
  log.error(`origin configuration: ${problems.join('; ')}`, { request_id: run.requestId });
  return { ok: false, kind: 'failed', message: INVALID_ORIGIN_CONFIG, attempts: [] };
}

/** An origin refusing the request is the client's error; anything else is the origins' (docs/origins.md). */
function originFailure(kind: ForwardFailureKind, message: string, retryAfterSeconds: number | undefined): Failure {
  const code = kind === 'refused' || kind === 'unservable' ? 'invalid_request' : kind === 'timed_out' ? 'origin_timeout' : 'origin_error';
  return { code, message, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) };
}
