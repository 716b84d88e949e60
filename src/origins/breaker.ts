import type { OriginConfig } from './config';

/**
 * A circuit breaker per origin (docs/origins.md): after `breaker_failures` consecutive failures the
 * origin is skipped for `breaker_cooldown_ms`; then one request at a time is let through as a
 * probe (half-open). A probe that succeeds closes the breaker; one that fails opens it again for a
 * full cool-down. An origin's 4xx is the client's fault: it neither counts as a failure nor closes
 * the breaker (a probe that met one just hands the probe to the next request).
 *
 * Where the state lives: in the isolate, as a module-level Map, not in a Durable Object.
 * - For: no extra round trip on the hot path (a DO call is a few ms to tens of ms, on every
 *   generation, when a breaker is usually closed), no single object that every request of every
 *   colo queues on, no new failure mode (what to do when the breaker's own store is down), and
 *   nothing to migrate. Losing the state (an evicted isolate) only closes the breaker, which is
 *   the safe direction: the origin is tried again and the breaker re-opens after N failures.
 * - Against: each isolate learns on its own. A dead origin costs up to N failed attempts per
 *   isolate rather than N in all, and isolates come out of the cool-down at different times, so
 *   "one probe" is one probe per isolate. Since a failed attempt costs the client only a fallback
 *   to the next origin, and origin calls take seconds anyway, that price is small.
 * The key is the origin's name and URL, so a changed ORIGINS starts from a closed breaker.
 */
interface BreakerState {
  failures: number;
  /** Set while open: when the cool-down ends. Stays set (in the past) while half-open. */
  openUntil: number | null;
  /** Set while a half-open probe is out: when its lease ends (a probe whose request died must not block the origin for ever). */
  probeUntil: number | null;
}

export type BreakerVerdict = { pass: true; probe: boolean } | { pass: false; retryAt: number };

const states = new Map<string, BreakerState>();
/** Only failing origins are kept; this bounds the map when ORIGINS changes often. */
const MAX_STATES = 1024;

function keyOf(origin: OriginConfig): string {
  return `${origin.name}\n${origin.url ?? ''}`;
}

/** Whether a request may try `origin` now; a half-open breaker lets exactly one through. */
export function checkBreaker(origin: OriginConfig, now: number): BreakerVerdict {
  const state = states.get(keyOf(origin));
  if (!state || state.openUntil === null) return { pass: true, probe: false };
  if (now < state.openUntil) return { pass: false, retryAt: state.openUntil };
  if (state.probeUntil !== null && now < state.probeUntil) return { pass: false, retryAt: state.probeUntil };
  state.probeUntil = now + origin.timeout_ms;
  return { pass: true, probe: true };
}

export function recordSuccess(origin: OriginConfig): void {
  states.delete(keyOf(origin));
}

export function recordFailure(origin: OriginConfig, now: number): void {
  const key = keyOf(origin);
  let state = states.get(key);
  if (!state) {
    if (states.size >= MAX_STATES) {
      const oldest = states.keys().next();
      if (!oldest.done) states.delete(oldest.value);
    }
    state = { failures: 0, openUntil: null, probeUntil: null };
    states.set(key, state);
  }
  state.failures += 1;
  // Half-open (openUntil set) means this was the probe, or a request let through before the
  // breaker opened: one failure is enough to open it again.
  if (state.openUntil !== null || state.failures >= origin.breaker_failures) {
    state.openUntil = now + origin.breaker_cooldown_ms;
    state.probeUntil = null;
  }
}

/** An answer that says nothing about the origin's health (its 4xx): frees a probe, changes nothing else. */
export function recordNeutral(origin: OriginConfig): void {
  const state = states.get(keyOf(origin));
  if (state) state.probeUntil = null;
}

/** What the breaker of `origin` says, for logs and tests. */
export function breakerState(origin: OriginConfig, now: number): 'closed' | 'open' | 'half-open' {
  const state = states.get(keyOf(origin));
  if (!state || state.openUntil === null) return 'closed';
  return now < state.openUntil ? 'open' : 'half-open';
}
