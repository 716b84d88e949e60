import type { Coalescer, LeaderOutcome, WaitResult } from '../durable-objects/coalescer';
import type { Env } from '../env';
import type { SeededRequest } from '../domain/generation-request';
import { ApiError, type ErrorCode } from '../errors';
import { originDeadlineMs, originsFor, parseOrigins } from '../origins/config';
import { cacheEntryFor } from '../storage/image-cache';
import type { TenantRecord } from '../storage/tenants';

/**
 * The generation pipeline's side of the Coalescer (CONTRACT §6): identical cacheable requests in
 * flight at the same time make one origin call. A Coalescer that cannot be reached never fails a
 * request: the caller then goes to the origin on its own, as if nothing were in flight.
 */
export interface Flight {
  role: 'leader' | 'follower';
  /** This generation's id, as the Coalescer knows it. */
  generationId: string;
  stub: DurableObjectStub<Coalescer>;
  /** How long a follower waits before giving up (the leader's lease plus a margin). */
  maxWaitMs: number;
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

/** Joins the Coalescer of the request's scoped cache key; null when it cannot be reached (go alone). */
export async function joinFlight(env: Env, tenant: TenantRecord, request: SeededRequest, generationId: string): Promise<Flight | null> {
  try {
    const { name } = await cacheEntryFor(tenant, request);
    const stub = env.COALESCER.get(env.COALESCER.idFromName(name));
    const leaseMs = leaseMsFor(env, request.model);
    const joined = await stub.join(generationId, leaseMs);
    return { role: joined.role, generationId, stub, maxWaitMs: leaseMs + FOLLOWER_MARGIN_MS };
  } catch (err) {
    logCoalescerError('join', generationId, err);
    return null;
  }
}

/** A follower's bounded wait; `unknown` when the Coalescer was lost meanwhile. */
export async function waitFlight(flight: Flight): Promise<WaitResult> {
  try {
    return await flight.stub.wait(flight.generationId, flight.maxWaitMs);
  } catch (err) {
    logCoalescerError('wait', flight.generationId, err);
    return { outcome: 'unknown' };
  }
}

/** Tells the followers how the generation ended; never throws (a lost report ends with the lease). */
export async function finishFlight(flight: Flight | null, outcome: LeaderOutcome): Promise<void> {
  if (!flight) return;
  try {
    await flight.stub.finish(flight.generationId, outcome);
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
