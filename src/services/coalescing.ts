import { cacheKey, coalescerShardName } from '../domain/cache-key';
import type { Coalescer, JoinOptions, LeaderOutcome, WaitResult } from '../durable-objects/coalescer';
import type { Env } from '../env';
import type { SeededRequest } from '../domain/generation-request';
import { ApiError, type ErrorCode } from '../errors';
import { originDeadlineMs, originsFor, parseOrigins } from '../origins/config';
import { cacheScopeOf } from '../storage/image-cache';
import type { TenantRecord } from '../domain/tenants';

/**
 * The generation pipeline's side of the Coalescer (CONTRACT §6): identical cacheable requests in
 * flight at the same time make one origin call. A Coalescer that cannot be reached never fails a
 * request: the caller then goes to the origin on its own, as if nothing were in flight.
 */
interface FlightRef {
  /** This generation's id, as the Coalescer knows it. */
  generationId: string;
  /** The shard object of the entry's scope (`coalescerShardName`). */
  stub: DurableObjectStub<Coalescer>;
  /** The flight within the shard: the entry's hash. */
  flightKey: string;
  leaseMs: number;
}

export interface Flight extends FlightRef {
  role: 'leader' | 'follower';
  /** How long a follower waits before giving up (the leader's lease plus a margin). */
  maxWaitMs: number;
}

/** The identical request in flight stored its image moments ago: read the cache (then `rejoinFlight` if it is not there). */
export interface ReadyFlight extends FlightRef {
  role: 'ready';
}

/** Time for storing the image and settling the charge once the origin has answered. */
const AFTER_ORIGIN_MS = 15_000;
const FOLLOWER_MARGIN_MS = 10_000;

/** The leader's lease: the longest its origin chain may take, plus the time to store and settle. */
export function leaseMsFor(env: Env, model: string): number {
  const parsed = parseOrigins(env.ORIGINS);
  const chain = parsed.ok ? originsFor(parsed.origins, model).reduce((sum, o) => sum + o.timeout_ms, 0) : 0;
  return Math.min(chain, originDeadlineMs(env)) + AFTER_ORIGIN_MS;
}

/**
 * Joins the request's flight in its scope's Coalescer shard; null when the Coalescer cannot be
 * reached (go alone).
 */
export async function joinFlight(
  env: Env,
  tenant: TenantRecord,
  request: SeededRequest,
  generationId: string,
): Promise<Flight | ReadyFlight | null> {
  try {
    const hash = await cacheKey(request);
    const stub = env.COALESCER.get(env.COALESCER.idFromName(coalescerShardName(cacheScopeOf(tenant), hash)));
    return await joinAt({ generationId, stub, flightKey: hash, leaseMs: leaseMsFor(env, request.model) });
  } catch (err) {
    logCoalescerError('join', generationId, err);
    return null;
  }
}

/** After a `ready` answer whose entry the cache did not have: lead or follow as usual; null to go alone. */
export async function rejoinFlight(ready: ReadyFlight): Promise<Flight | null> {
  try {
    const flight = await joinAt(ready, { cacheMissedAfterReady: true });
    // the Coalescer does not answer `ready` to this; should it, going alone is the safe way out
    return flight.role === 'ready' ? null : flight;
  } catch (err) {
    logCoalescerError('join', ready.generationId, err);
    return null;
  }
}

async function joinAt(ref: FlightRef, options?: JoinOptions): Promise<Flight | ReadyFlight> {
  const { generationId, stub, flightKey, leaseMs } = ref;
  const joined = await stub.join(flightKey, generationId, leaseMs, options);
  if (joined.role === 'ready') return { role: 'ready', generationId, stub, flightKey, leaseMs };
  return { role: joined.role, generationId, stub, flightKey, leaseMs, maxWaitMs: leaseMs + FOLLOWER_MARGIN_MS };
}

/** A follower's bounded wait; `unknown` when the Coalescer was lost meanwhile. */
export async function waitFlight(flight: Flight): Promise<WaitResult> {
  try {
    return await flight.stub.wait(flight.flightKey, flight.generationId, flight.maxWaitMs);
  } catch (err) {
    logCoalescerError('wait', flight.generationId, err);
    return { outcome: 'unknown' };
  }
}

/** Tells the followers how the generation ended; never throws (a lost report ends with the lease). */
export async function finishFlight(flight: Flight | null, outcome: LeaderOutcome): Promise<void> {
  if (!flight) return;
  try {
    await flight.stub.finish(flight.flightKey, flight.generationId, outcome);
  } catch (err) {
    logCoalescerError('finish', flight.generationId, err);
  }
}

/** Runs a leader's generation and reports its end to the followers, whatever the end is. */
export async function leadFlight<T>(flight: Flight | null, run: () => Promise<T>): Promise<T> {
  if (!flight) return run();
  try {
    const result = await run();
    await finishFlight(flight, { kind: 'ready' });
    return result;
  } catch (err) {
    await finishFlight(flight, outcomeOfFailure(err));
    throw err;
  }
}

/**
 * An origin's refusal or failure would be the same for every follower (the whole origin chain was
 * tried), so they fail with it; anything that was this request's own (its budget, a bug) lets a
 * follower take over.
 */
const SHARED_FAILURES: ReadonlySet<ErrorCode> = new Set(['origin_error', 'origin_timeout', 'invalid_request']);

export function outcomeOfFailure(err: unknown): LeaderOutcome {
  if (err instanceof ApiError && SHARED_FAILURES.has(err.code)) return { kind: 'failed', code: err.code, message: err.message };
  return { kind: 'handover' };
}

/** The leader's failure, as the follower answers it. */
export function followerError(result: { code: string; message: string }): ApiError {
  const code = SHARED_FAILURES.has(result.code as ErrorCode) ? (result.code as ErrorCode) : 'origin_error';
  return new ApiError(code, result.message);
}

function logCoalescerError(step: string, generationId: string, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  console.error(JSON.stringify({ level: 'error', request_id: generationId, message: `coalescer ${step}: ${message}` }));
}
