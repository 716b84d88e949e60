import { cacheKey, coalescerShardName } from '../../domain/cache-key';
import { Failed, type Failure, type FailureCode } from '../../domain/failure';
import type { SeededRequest } from '../../domain/generation-request';
import { requestLifetimes } from '../../domain/lifetimes';
import type { Coalescer, JoinOptions, LeaderOutcome, WaitResult } from '../../durable-objects/coalescer';
import type { Env } from '../../env';
import { errorText, log } from '../../log';
import { originDeadlineMs, originsFor, parseOrigins } from '../../origins/config';
import { cacheScopeOf } from '../../storage/image-cache';
import type { TenantRecord } from '../../domain/tenants';

/*
 * The pipeline's side of the Coalescer (docs/cache.md): identical cacheable requests in flight at
 * the same time make one origin call. A Coalescer that cannot be reached never fails a request:
 * the caller then goes to the origin on its own, as if nothing were in flight.
 */

interface FlightRef {
  /** This generation's id, as the Coalescer knows it. */
  generationId: string;
  /** The shard object of the entry's scope (`coalescerShardName`). */
  stub: DurableObjectStub<Coalescer>;
  /** The flight within the shard: the entry's hash. */
  flightKey: string;
  /** The leader's lease, and how long a follower waits for it (src/domain/lifetimes.ts). */
  leaseMs: number;
  maxWaitMs: number;
}

export interface Flight extends FlightRef {
  role: 'leader' | 'follower';
}

/** The identical request in flight stored its image moments ago: read the cache (then `rejoinFlight` if it is not there). */
export interface ReadyFlight extends FlightRef {
  role: 'ready';
}

/** The leases for a request of `model`: its origins' chain of timeouts, capped by the deadline. */
function leasesFor(env: Env, model: string): { leaseMs: number; maxWaitMs: number } {
  const parsed = parseOrigins(env.ORIGINS);
  const chain = parsed.ok ? originsFor(parsed.origins, model).reduce((sum, o) => sum + o.timeout_ms, 0) : 0;
  const lifetimes = requestLifetimes(originDeadlineMs(env), chain);
  return { leaseMs: lifetimes.mergeLeadMs, maxWaitMs: lifetimes.followerWaitMs };
}

export interface JoinFlightOptions {
  env: Env;
  tenant: TenantRecord;
  request: SeededRequest;
  generationId: string;
}

/** Joins the request's flight in its scope's Coalescer shard; null when the Coalescer cannot be reached (go alone). */
export async function joinFlight({ env, tenant, request, generationId }: JoinFlightOptions): Promise<Flight | ReadyFlight | null> {
  try {
    const hash = await cacheKey(request);
    const stub = env.COALESCER.get(env.COALESCER.idFromName(coalescerShardName(cacheScopeOf(tenant), hash)));
    return await joinAt({ generationId, stub, flightKey: hash, ...leasesFor(env, request.model) });
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
  const joined = await ref.stub.join(ref.flightKey, ref.generationId, ref.leaseMs, options);
  return { ...ref, role: joined.role };
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

/** Pauses before the second and third try of a report (`finishFlight`). */
const FINISH_RETRY_PAUSES_MS = [50, 250] as const;
/** A report that failed after this long (it hung until the storage timeout) is not tried again. */
const FINISH_RETRY_UNLESS_SLOWER_MS = 1_000;

/**
 * Tells the followers how the generation ended; never throws. A report that fails is tried twice
 * more: followers not told wait for the whole lease (seconds to minutes) before one takes over, so a
 * lost report is worth another round trip. Trying again is safe: the Coalescer applies a leader's
 * report once (a second one finds no lead of this generation and changes nothing). A report that
 * still fails, or that failed only after hanging, ends with the lease, as before.
 */
export async function finishFlight(flight: Flight | null, outcome: LeaderOutcome): Promise<void> {
  if (!flight) return;
  for (let attempt = 0; ; attempt++) {
    const started = Date.now();
    try {
      return await flight.stub.finish(flight.flightKey, flight.generationId, outcome);
    } catch (err) {
      const pause = FINISH_RETRY_PAUSES_MS[attempt];
      // a report that hung until the storage timeout is not tried again: that would multiply the wait
      if (pause === undefined || Date.now() - started >= FINISH_RETRY_UNLESS_SLOWER_MS) {
        return logCoalescerError('finish', flight.generationId, err);
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * Runs a leader's generation and reports its end to the followers, whatever the end is. The report
 * is handed to `background` (the request's waitUntil) rather than awaited: it starts the moment
 * the work ends, as it did when it was awaited, so a follower waits no longer, but the leader's
 * answer no longer waits for it. A follower needs only the stored image, which exists once the
 * work (fetch → store) resolved; and a report that is lost or late ends with the lease as before.
 */
export async function leadFlight<T>(flight: Flight | null, work: () => Promise<T>, background: (report: Promise<void>) => void): Promise<T> {
  if (!flight) return work();
  let outcome: LeaderOutcome = { kind: 'ready' };
  try {
    return await work();
  } catch (err) {
    outcome = outcomeOfFailure(err);
    throw err;
  } finally {
    background(finishFlight(flight, outcome));
  }
}

/**
 * An origin's refusal or failure would be the same for every follower (the whole origin chain was
 * tried), so they fail with it; anything that was this request's own (its budget, a bug) lets a
 * follower take over.
 */
const SHARED_FAILURES: ReadonlySet<FailureCode> = new Set(['origin_error', 'origin_timeout', 'invalid_request']);

export function outcomeOfFailure(err: unknown): LeaderOutcome {
  if (err instanceof Failed && SHARED_FAILURES.has(err.failure.code)) {
    return { kind: 'failed', code: err.failure.code, message: err.failure.message };
  }
  return { kind: 'handover' };
}

/** The leader's failure, as the follower fails with it. */
export function followerFailure(result: { code: string; message: string }): Failure {
  const code = SHARED_FAILURES.has(result.code as FailureCode) ? (result.code as FailureCode) : 'origin_error';
  return { code, message: result.message };
}

function logCoalescerError(step: string, generationId: string, err: unknown): void {
  log.error(`coalescer ${step}: ${errorText(err)}`, { request_id: generationId });
}
