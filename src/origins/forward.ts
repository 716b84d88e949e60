import type { SeededRequest } from '../domain/generation-request';
import type { ImageType } from '../domain/image-format';
import { verifyImage } from '../domain/image-verify';
import { checkBreaker, recordFailure, recordNeutral, recordSuccess } from './breaker';
import { originDeadlineMs, originsFor, type OriginConfig } from './config';
import { ADAPTERS } from './index';
import type { OriginFailure, OriginFailureKind, OriginImage, OriginOutcome } from './types';

/** One origin's part in a generation, as the log line records it. */
export interface Attempt {
  origin: string;
  /** `breaker_open` and `unsupported`: passed over without being called. */
  outcome: 'ok' | OriginFailureKind | 'breaker_open' | 'unsupported';
  status?: number;
  latencyMs: number;
}

/**
 * Why no origin gave an image:
 * - `refused`: an origin refused the request itself (its 4xx); no other origin was tried;
 * - `unservable`: every origin would have had to change the request to serve it;
 * - `no_origin`: no origin serves the model;
 * - `cooling_down`: every origin's breaker is open (`retryAfterSeconds` says until when);
 * - `failed` / `timed_out`: origins were tried and failed, the last one by timing out or otherwise.
 */
export type ForwardFailureKind = 'refused' | 'unservable' | 'no_origin' | 'cooling_down' | 'failed' | 'timed_out';

export type ForwardResult =
  | { ok: true; bytes: Uint8Array; contentType: ImageType; origin: string; attempts: Attempt[] }
  | { ok: false; kind: ForwardFailureKind; message: string; attempts: Attempt[]; retryAfterSeconds?: number };

export interface ForwardOptions {
  requestId: string;
  env: Record<string, unknown>;
  /** The clock of the circuit breakers and of attempt latencies. */
  now: () => number;
  /** The whole chain's time limit; ORIGIN_DEADLINE_MS (or its default) when absent. */
  deadlineMs?: number;
}

/**
 * An origin's image is used only when it is whole and of the size asked for (docs/origins.md, "Only
 * whole images"): anything else is that origin's failure, so it is never served, charged or cached,
 * counts for the breaker, and the next origin is tried. The type is the one the structure proved,
 * not the one the origin claimed.
 */
function wholeImage(origin: OriginConfig, request: SeededRequest, image: OriginImage): OriginOutcome {
  const expected = { width: request.width, height: request.height, checkDimensions: origin.verify_dimensions };
  const found = verifyImage(image.bytes, expected);
  if (!found.ok) return { ok: false, failure: 'not_image', message: `origin '${origin.name}' answered an unusable image: ${found.reason}` };
  return { ok: true, bytes: image.bytes, contentType: found.type };
}

/** What the chain has seen so far: every attempt, the last failure, and why origins were passed over. */
interface Chain {
  attempts: Attempt[];
  last: OriginFailure | null;
  /** The soonest an origin whose breaker is open may be tried again. */
  retryAt: number | null;
  unsupported: string[];
}

/**
 * Tries each origin that serves the model, in order, until one answers an image (docs/origins.md).
 * A connection error, 5xx, timeout or non-image answer moves on; an origin's 4xx is the client's
 * error and ends the chain. Origins whose breaker is open are passed over, and when that leaves
 * nothing to try the request fails at once with a Retry-After.
 */
export async function forward(origins: OriginConfig[], request: SeededRequest, options: ForwardOptions): Promise<ForwardResult> {
  const eligible = originsFor(origins, request.model);
  const chain: Chain = { attempts: [], last: null, retryAt: null, unsupported: [] };
  if (eligible.length === 0) {
    return { ok: false, kind: 'no_origin', message: `no origin serves model '${request.model}'`, attempts: chain.attempts };
  }
  const deadlineMs = options.deadlineMs ?? originDeadlineMs(options.env);
  const deadline = AbortSignal.timeout(deadlineMs);
  for (const origin of eligible) {
    if (deadline.aborted) break;
    if (passedOver(origin, request, options, chain)) continue;
    const outcome = await tryOrigin({ origin, request, options, deadline, deadlineMs, chain });
    if (outcome.ok) return { ok: true, bytes: outcome.bytes, contentType: outcome.contentType, origin: origin.name, attempts: chain.attempts };
    if (outcome.failure === 'client_error') return { ok: false, kind: 'refused', message: outcome.message, attempts: chain.attempts };
    chain.last = outcome;
  }
  return chainFailure(request, options, chain);
}

/** An origin that cannot serve the request as asked, or whose breaker is open, is not called. */
function passedOver(origin: OriginConfig, request: SeededRequest, options: ForwardOptions, chain: Chain): boolean {
  const reason = ADAPTERS[origin.kind].unsupported?.(request) ?? null;
  if (reason) {
    chain.attempts.push({ origin: origin.name, outcome: 'unsupported', latencyMs: 0 });
    chain.unsupported.push(`origin '${origin.name}': ${reason}`);
    return true;
  }
  const verdict = checkBreaker(origin, options.now());
  if (verdict.pass) return false;
  chain.attempts.push({ origin: origin.name, outcome: 'breaker_open', latencyMs: 0 });
  chain.retryAt = chain.retryAt === null ? verdict.retryAt : Math.min(chain.retryAt, verdict.retryAt);
  return true;
}

interface TryOptions {
  origin: OriginConfig;
  request: SeededRequest;
  options: ForwardOptions;
  deadline: AbortSignal;
  deadlineMs: number;
  chain: Chain;
}

/** One call to one origin, judged: a whole image, or a failure counted (or not) against its breaker. */
async function tryOrigin({ origin, request, options, deadline, deadlineMs, chain }: TryOptions): Promise<OriginOutcome> {
  const started = options.now();
  const ownTimeout = AbortSignal.timeout(origin.timeout_ms);
  const secretValue = origin.api_key_secret ? options.env[origin.api_key_secret] : undefined;
  let outcome: OriginOutcome;
  try {
    outcome = await ADAPTERS[origin.kind].generate(origin, {
      request,
      requestId: options.requestId,
      secret: typeof secretValue === 'string' && secretValue ? secretValue : undefined,
      signal: AbortSignal.any([ownTimeout, deadline]),
    });
  } catch {
    // An adapter is meant to return its failures; one that throws is a broken origin, not a broken request.
    outcome = { ok: false, failure: 'unreachable', message: `origin '${origin.name}' failed unexpectedly` };
  }
  const latencyMs = Math.max(0, options.now() - started);
  if (outcome.ok) outcome = wholeImage(origin, request, outcome);
  if (outcome.ok) {
    recordSuccess(origin);
    chain.attempts.push({ origin: origin.name, outcome: 'ok', latencyMs });
    return outcome;
  }
  chain.attempts.push({ origin: origin.name, outcome: outcome.failure, ...(outcome.status ? { status: outcome.status } : {}), latencyMs });
  if (outcome.failure === 'client_error') {
    recordNeutral(origin);
  } else if (outcome.failure === 'timeout' && deadline.aborted && !ownTimeout.aborted) {
    // The chain ran out of time, not this origin: still within its own timeout, it has not failed.
    recordNeutral(origin);
    outcome = { ...outcome, message: `the ${deadlineMs} ms deadline for all origins passed while waiting for origin '${origin.name}'` };
  } else {
    recordFailure(origin, options.now());
  }
  return outcome;
}

/** Why no origin gave an image, once the chain is over. */
function chainFailure(request: SeededRequest, options: ForwardOptions, chain: Chain): ForwardResult {
  const { attempts, last, retryAt } = chain;
  if (last === null && retryAt !== null) {
    const seconds = Math.max(1, Math.ceil((retryAt - options.now()) / 1000));
    return {
      ok: false,
      kind: 'cooling_down',
      message: `every origin for model '${request.model}' is cooling down after repeated failures; retry in ${seconds} s`,
      attempts,
      retryAfterSeconds: seconds,
    };
  }
  if (last === null) {
    // Nothing was called: every origin would have had to change the request to serve it.
    return { ok: false, kind: 'unservable', message: `no origin can serve this request as asked: ${chain.unsupported.join('; ')}`, attempts };
  }
  const tried = attempts.filter((a) => a.outcome !== 'unsupported' && a.outcome !== 'breaker_open').length;
  return {
    ok: false,
    kind: last.failure === 'timeout' ? 'timed_out' : 'failed',
    message: tried > 1 ? `every origin failed; last: ${last.message}` : last.message,
    attempts,
  };
}
