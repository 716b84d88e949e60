/**
 * How long each thing a generation holds may live, derived in one place from the origin deadline
 * (`ORIGIN_DEADLINE_MS`: the longest a request's whole chain of origins may take). A request that
 * dies leaves these behind; each ends by itself when its lifetime is over
 * (docs/origins.md#deadline-and-lifetimes).
 *
 * The order they must keep, from the shortest (asserted by test/domain/lifetimes.test.ts):
 *
 *   origin time  <  merge lead  <=  follower wait
 *   merge lead   <=  in-flight slot  <=  reservation  <=  Idempotency-Key lease
 *
 * - a merge lead (the Coalescer's leader lease) outlives the origin call plus storing the image and
 *   settling, so followers do not take over from a leader that is still working;
 * - a follower waits a little longer than the lead, to hear how it ended;
 * - the in-flight slot and the budget reservation outlive the lead: a settle after its reservation
 *   expired would find nothing to charge (a free image);
 * - an Idempotency-Key retry is refused (409) while the first request may still be charged.
 */

/**
 * How long an Idempotency-Key record is kept after its request (docs/cache.md): a retry within it
 * replays the stored answer; the cron forgets older records.
 */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;

/** Time for storing the image and settling the charge once the origin has answered. */
const AFTER_ORIGIN_MS = 15_000;
/** How much longer than a merge lead a follower waits for its outcome. */
const FOLLOWER_MARGIN_MS = 10_000;
/**
 * Time after the origin deadline that a request may still hold its in-flight slot: past the merge
 * lead (AFTER_ORIGIN_MS), short of the reservation.
 */
const SLOT_MARGIN_MS = 20_000;
/**
 * Time after the origin deadline that a reservation (and the Idempotency-Key lease) stays, for the
 * image write and the settle. The longest lifetime of all: with the cron's minute on top, a dead
 * request gives everything back within the deadline + 90 s (docs/admin.md).
 */
const SETTLE_MARGIN_MS = 30_000;

export interface RequestLifetimes {
  /** The longest this request's origins may take: the model's chain of timeouts, capped by the deadline. */
  originMs: number;
  /** The Coalescer leader's lease. */
  mergeLeadMs: number;
  /** How long a follower waits for the leader. */
  followerWaitMs: number;
  /** The rate limiter's in-flight slot lease. */
  slotLeaseMs: number;
  /** A budget reservation's lifetime; the cron releases it after that. */
  reservationMs: number;
  /** The 'running' lease of an Idempotency-Key record. */
  idempotencyLeaseMs: number;
}

/**
 * Every lifetime for a request under `deadlineMs`. `chainMs` is the sum of the timeouts of the
 * origins that may serve the model (the deadline when unknown).
 */
export function requestLifetimes(deadlineMs: number, chainMs: number = deadlineMs): RequestLifetimes {
  const originMs = Math.min(chainMs, deadlineMs);
  const mergeLeadMs = originMs + AFTER_ORIGIN_MS;
  const reservationMs = deadlineMs + SETTLE_MARGIN_MS;
  return {
    originMs,
    mergeLeadMs,
    followerWaitMs: mergeLeadMs + FOLLOWER_MARGIN_MS,
    slotLeaseMs: deadlineMs + SLOT_MARGIN_MS,
    reservationMs,
    idempotencyLeaseMs: reservationMs,
  };
}
