import type { Env } from '../env';
import type { Caller } from '../domain/tenants';
import type { AdmitResult, LeaseResult, LimitScope, RateLimiter, Refusal, RpmState, SlotState } from '../durable-objects/rate-limiter';
import { fail, type Failure, type RateLimitReport } from '../domain/failure';
import { requestLifetimes } from '../domain/lifetimes';
import { errorText, log } from '../log';
import { originDeadlineMs } from '../origins/config';

/** An admitted generation request: the rate limits to report, and its in-flight lease to give back. */
export interface Admission {
  /** The limits as they stand for this request; null when neither key nor tenant has a limit. */
  report: RateLimitReport | null;
  /**
   * Takes the in-flight slot before anything goes to an origin, when `admit` did not take it (it
   * leaves it out while the slots are full and the request may still be all cache hits); throws
   * 429 `concurrency_limited` if the slots are still full. A no-op when the slot is held or not needed.
   */
  holdSlot(now: number): Promise<void>;
  /**
   * Whether `holdSlot` would call the limiter: the request was admitted while the slots were full,
   * so whether it may go to an origin is not known until it has taken one.
   */
  readonly slotPending: boolean;
  /** Gives back the in-flight slot (holdSlot may take one again); safe to call more than once. */
  release(): Promise<void>;
}

export interface AdmitOptions {
  env: Env;
  caller: Caller;
  requestId: string;
  now: number;
  /**
   * False when no image of the request can be a cache hit: it will certainly go to an origin, so a
   * full set of in-flight slots refuses it at once. Default true.
   */
  mayHitCache?: boolean;
}

const UNLIMITED: Admission = { report: null, holdSlot: async () => undefined, slotPending: false, release: async () => undefined };

/**
 * Admits a generation request against the key's and the tenant's limits (docs/rate-limits.md), or
 * fails with `rate_limited` / `concurrency_limited`, the wait and the limits' state.
 *
 * Key and tenant are checked in one round trip to the tenant's RateLimiter object; a caller with no
 * limit at all never calls it.
 *
 * When the object cannot be reached the gateway fails closed: 503 `unavailable` with Retry-After,
 * so a limit is never silently lifted. `RATE_LIMIT_FAILURE_MODE=open` lets requests through instead
 * (without RateLimit fields), for operators who prefer availability to enforcement.
 */
export async function admit(options: AdmitOptions): Promise<Admission> {
  const { env, caller, requestId } = options;
  const scopes = limitScopes(caller);
  if (scopes.length === 0) return UNLIMITED;
  const leaseMs = requestLifetimes(originDeadlineMs(env)).slotLeaseMs;
  let limiter: DurableObjectStub<RateLimiter>;
  let result: AdmitResult;
  try {
    limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(caller.tenant.id));
    result = await limiter.admit({ requestId, now: options.now, leaseMs, scopes, deferSlot: options.mayHitCache ?? true });
  } catch (err) {
    return unreachable(env, requestId, err);
  }
  if (!result.ok) fail(...refusal(caller, result.refusal, result.rpm, result.slots));
  return new LimitedAdmission({ env, caller, requestId, limiter, scopes, leaseMs, admitted: result });
}

interface LimitedAdmissionOptions {
  env: Env;
  caller: Caller;
  requestId: string;
  limiter: DurableObjectStub<RateLimiter>;
  scopes: LimitScope[];
  leaseMs: number;
  admitted: Extract<AdmitResult, { ok: true }>;
}

/** An admission by the tenant's RateLimiter: holds (or may take) an in-flight slot, and reports the limits. */
class LimitedAdmission implements Admission {
  report: RateLimitReport;
  private leased: boolean;
  private needsSlot: boolean;

  constructor(private readonly o: LimitedAdmissionOptions) {
    this.report = rateLimitReport(o.admitted.rpm, o.admitted.slots);
    this.leased = o.admitted.leased;
    this.needsSlot = !o.admitted.leased && o.admitted.slots.length > 0;
  }

  get slotPending(): boolean {
    return this.needsSlot;
  }

  async holdSlot(now: number): Promise<void> {
    if (!this.needsSlot) return;
    this.needsSlot = false;
    const { env, caller, requestId, limiter, scopes, leaseMs, admitted } = this.o;
    let lease: LeaseResult;
    try {
      lease = await limiter.lease({ requestId, now, leaseMs, scopes, admittedAt: admitted.at });
    } catch (err) {
      unreachable(env, requestId, err);
      return;
    }
    if (!lease.ok) fail(...refusal(caller, lease.refusal, admitted.rpm, lease.slots));
    this.leased = true;
    this.report = rateLimitReport(admitted.rpm, lease.slots);
  }

  async release(): Promise<void> {
    if (!this.leased) return;
    this.leased = false;
    // a follower whose leader gave up goes to the origin after all: it must be able to lease again
    this.needsSlot = this.o.admitted.slots.length > 0;
    try {
      await this.o.limiter.release(this.o.requestId);
    } catch (err) {
      // the lease expires by itself (the object's alarm); nothing else to do here
      log.error('rate limiter release failed', { request_id: this.o.requestId, error: errorText(err) });
    }
  }
}

/** The key's and tenant's counters inside the tenant's object; a scope with no limit is left out. */
function limitScopes(caller: Caller): LimitScope[] {
  const scopes: LimitScope[] = [];
  const { key, tenant } = caller;
  if (key.rateLimitRpm !== null || key.maxConcurrent !== null) {
    scopes.push({ id: `key:${key.id}`, rpm: key.rateLimitRpm, maxConcurrent: key.maxConcurrent });
  }
  if (tenant.rateLimitRpm !== null || tenant.maxConcurrent !== null) {
    scopes.push({ id: 'tenant', rpm: tenant.rateLimitRpm, maxConcurrent: tenant.maxConcurrent });
  }
  return scopes;
}

function unreachable(env: Env, requestId: string, err: unknown): Admission {
  const open = (env.RATE_LIMIT_FAILURE_MODE ?? '').trim().toLowerCase() === 'open';
  log.error('rate limiter unreachable', { request_id: requestId, failure_mode: open ? 'open' : 'closed', error: errorText(err) });
  if (open) return UNLIMITED;
  fail('unavailable', 'the rate limiter cannot be reached; try again shortly', { retryAfterSeconds: 1 });
}

/** A refusal as the failure's code, message and details. */
function refusal(caller: Caller, r: Refusal, rpm: RpmState[], slots: SlotState[]): Parameters<typeof fail> {
  const who = r.scope === 'tenant' ? `tenant '${caller.tenant.name}'` : `key '${caller.key.name}'`;
  const wait = `retry after ${r.retryAfterSeconds} s`;
  const details: Omit<Failure, 'code' | 'message'> = { retryAfterSeconds: r.retryAfterSeconds, rateLimit: rateLimitReport(rpm, slots) };
  if (r.kind === 'rpm') return ['rate_limited', `${who} is limited to ${r.limit} requests per minute (rate_limit_rpm); ${wait}`, details];
  return ['concurrency_limited', `${who} is limited to ${r.limit} generations in flight (max_concurrent); ${wait}`, details];
}

/**
 * What to report of the limits: when both the key and the tenant limit a resource, only the tighter
 * one (fewest left, then smallest quota). It is the one the client runs into first, and it keeps
 * the report's shape the same whichever scope it comes from.
 */
function rateLimitReport(rpm: RpmState[], slots: SlotState[]): RateLimitReport {
  const tightRpm = tightest(rpm, (s) => s.remaining);
  const tightSlot = tightest(slots, (s) => Math.max(0, s.limit - s.inFlight));
  return {
    rpm: tightRpm && { limit: tightRpm.limit, remaining: tightRpm.remaining, resetSeconds: tightRpm.resetSeconds },
    concurrency: tightSlot && { limit: tightSlot.limit, remaining: Math.max(0, tightSlot.limit - tightSlot.inFlight) },
  };
}

function tightest<T extends { limit: number }>(states: T[], left: (s: T) => number): T | null {
  let best: T | null = null;
  for (const s of states) {
    if (!best || left(s) < left(best) || (left(s) === left(best) && s.limit < best.limit)) best = s;
  }
  return best;
}
