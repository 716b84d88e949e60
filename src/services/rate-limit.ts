import type { Env } from '../env';
import type { Caller } from '../domain/tenants';
import type { AdmitResult, LeaseResult, LimitScope, RateLimiter, Refusal, RpmState, SlotState } from '../durable-objects/rate-limiter';
import { ApiError } from '../errors';
import { originDeadlineMs } from '../origins/config';

/** An admitted generation request: the RateLimit headers to send, and its in-flight lease to give back. */
export interface Admission {
  /** RateLimit-Policy and RateLimit for the answer (empty when neither key nor tenant has a limit). */
  headers: Record<string, string>;
  /**
   * Takes the in-flight slot before anything goes to an origin, when `admit` did not take it (it
   * leaves it out while the slots are full and the request may still be all cache hits); throws
   * 429 `concurrency_limited` if the slots are still full. A no-op when the slot is held or not needed.
   */
  holdSlot(now: number): Promise<void>;
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

/** Time after the origin deadline that a request may still hold its slot (cache and image writes, settling). */
const LEASE_MARGIN_MS = 60_000;

const UNLIMITED: Admission = { headers: {}, holdSlot: async () => undefined, release: async () => undefined };

/**
 * Admits a generation request against the key's and the tenant's limits (CONTRACT §5), or throws a
 * 429 `rate_limited` / `concurrency_limited` carrying Retry-After and the RateLimit fields.
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
  const leaseMs = originDeadlineMs(env) + LEASE_MARGIN_MS;

  let limiter: DurableObjectStub<RateLimiter>;
  let result: AdmitResult;
  try {
    limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(caller.tenant.id));
    result = await limiter.admit({ requestId, now: options.now, leaseMs, scopes, deferSlot: options.mayHitCache ?? true });
  } catch (err) {
    return unreachable(env, requestId, err);
  }
  if (!result.ok) throw refusalError(caller, result.refusal, result.rpm, result.slots);

  const headers = rateLimitFields(result.rpm, result.slots);
  let leased = result.leased;
  let needsSlot = !result.leased && result.slots.length > 0;
  const admittedAt = result.at;
  return {
    headers,
    async holdSlot(now: number) {
      if (!needsSlot) return;
      needsSlot = false;
      let lease: LeaseResult;
      try {
        lease = await limiter.lease({ requestId, now, leaseMs, scopes, admittedAt });
      } catch (err) {
        unreachable(env, requestId, err);
        return;
      }
      if (!lease.ok) throw refusalError(caller, lease.refusal, result.rpm, lease.slots);
      leased = true;
      Object.assign(headers, rateLimitFields(result.rpm, lease.slots));
    },
    async release() {
      if (!leased) return;
      leased = false;
      // a follower whose leader gave up goes to the origin after all: it must be able to lease again
      needsSlot = result.slots.length > 0;
      try {
        await limiter.release(requestId);
      } catch (err) {
        // the lease expires by itself (the object's alarm); nothing else to do here
        console.error(JSON.stringify({ level: 'error', request_id: requestId, message: 'rate limiter release failed', error: String(err) }));
      }
    },
  };
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
  console.error(
    JSON.stringify({ level: 'error', request_id: requestId, message: 'rate limiter unreachable', failure_mode: open ? 'open' : 'closed', error: String(err) }),
  );
  if (open) return UNLIMITED;
  throw new ApiError('unavailable', 'the rate limiter cannot be reached; try again shortly', { headers: { 'Retry-After': '1' } });
}

function refusalError(caller: Caller, refusal: Refusal, rpm: RpmState[], slots: SlotState[]): ApiError {
  const who = refusal.scope === 'tenant' ? `tenant '${caller.tenant.name}'` : `key '${caller.key.name}'`;
  const wait = `retry after ${refusal.retryAfterSeconds} s`;
  const headers = { 'Retry-After': String(refusal.retryAfterSeconds), ...rateLimitFields(rpm, slots) };
  if (refusal.kind === 'rpm') {
    return new ApiError('rate_limited', `${who} is limited to ${refusal.limit} requests per minute (rate_limit_rpm); ${wait}`, { headers });
  }
  return new ApiError(
    'concurrency_limited',
    `${who} is limited to ${refusal.limit} generations in flight (max_concurrent); ${wait}`,
    { headers },
  );
}

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` declares the
 * quota, `RateLimit` its current state. When both the key and the tenant limit a resource, only the
 * tighter one is sent (fewest left, then smallest quota): it is the one the client runs into first,
 * and it keeps the policy name `"rpm"` stable whichever scope it comes from. The in-flight limit is
 * a second policy, `"concurrency"`, in the draft's `concurrent-requests` quota unit.
 */
function rateLimitFields(rpm: RpmState[], slots: SlotState[]): Record<string, string> {
  const policies: string[] = [];
  const states: string[] = [];
  const tightRpm = tightest(rpm, (s) => s.remaining);
  if (tightRpm) {
    policies.push(`"rpm";q=${tightRpm.limit};w=60`);
    states.push(`"rpm";r=${tightRpm.remaining};t=${tightRpm.resetSeconds}`);
  }
  const tightSlot = tightest(slots, (s) => Math.max(0, s.limit - s.inFlight));
  if (tightSlot) {
    policies.push(`"concurrency";q=${tightSlot.limit};qu="concurrent-requests"`);
    states.push(`"concurrency";r=${Math.max(0, tightSlot.limit - tightSlot.inFlight)}`);
  }
  if (policies.length === 0) return {};
  return { 'RateLimit-Policy': policies.join(', '), RateLimit: states.join(', ') };
}

function tightest<T extends { limit: number }>(states: T[], left: (s: T) => number): T | null {
  let best: T | null = null;
  for (const s of states) {
    if (!best || left(s) < left(best) || (left(s) === left(best) && s.limit < best.limit)) best = s;
  }
  return best;
}
