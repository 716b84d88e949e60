import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { WINDOW_MS, type LimitScope } from '../../src/durable-objects/rate-limiter';
import { unique } from '../helpers/api';
import { seededRandom } from '../helpers/random';
import { admitAt, limiterOf } from './support';

/** The most admissions that any half-open 60 s window [x, x + 60 s) holds. */
function busiestWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] ?? 0) - (sorted[lo] ?? 0) >= WINDOW_MS) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('RateLimiter object', () => {
  it('over 10 simulated minutes of random arrivals, no 60 s window admits more than the limit', async () => {
    for (const seed of [1, 2, 3]) {
      const random = seededRandom(seed);
      const tenantId = unique('prop');
      const keyLimit = 5 + random.int(10);
      const tenantLimit = keyLimit + 3 + random.int(8);
      const keys: LimitScope[] = [0, 1, 2].map((i) => ({ id: `key:k${i}`, rpm: keyLimit, maxConcurrent: null }));
      const tenant: LimitScope = { id: 'tenant', rpm: tenantLimit, maxConcurrent: null };
      const admitted = new Map<string, number[]>([['tenant', []], ...keys.map((k) => [k.id, []] as [string, number[]])]);

      // bursts and lulls: gaps from 0 ms to 8 s, so some minutes are flooded and some are quiet
      let t = Date.now();
      const end = t + 10 * WINDOW_MS;
      let n = 0;
      let refusals = 0;
      while (t < end) {
        t += random.next() < 0.3 ? random.int(50) : random.int(8_000);
        const key = random.pick(keys);
        const result = await admitAt(tenantId, `r${n++}`, t, [key, tenant]);
        if (result.ok) {
          admitted.get(key.id)?.push(t);
          admitted.get('tenant')?.push(t);
        } else {
          refusals++;
          // a refusal is only ever for a window that really is full, and it says when that changes
          const full = result.refusal.scope === 'tenant' ? admitted.get('tenant') : admitted.get(key.id);
          const inWindow = (full ?? []).filter((at) => at > t - WINDOW_MS).length;
          expect(inWindow).toBeGreaterThanOrEqual(result.refusal.limit);
          const oldestThatMustGo = (full ?? []).filter((at) => at > t - WINDOW_MS)[inWindow - result.refusal.limit] ?? 0;
          expect(result.refusal.retryAfterSeconds).toBe(Math.max(1, Math.ceil((oldestThatMustGo + WINDOW_MS - t) / 1000)));
        }
      }
      expect(refusals).toBeGreaterThan(0);
      for (const k of keys) expect(busiestWindow(admitted.get(k.id) ?? [])).toBeLessThanOrEqual(keyLimit);
      expect(busiestWindow(admitted.get('tenant') ?? [])).toBeLessThanOrEqual(tenantLimit);
      // and the limit is reached, not merely respected: some window is full
      expect(busiestWindow(admitted.get('tenant') ?? [])).toBe(tenantLimit);
    }
  });

  it('keeps the window on a monotonic clock: a caller whose clock lags cannot reopen it', async () => {
    const tenantId = unique('mono');
    const scopes: LimitScope[] = [{ id: 'tenant', rpm: 2, maxConcurrent: null }];
    const t = Date.now();
    expect((await admitAt(tenantId, 'a', t, scopes)).ok).toBe(true);
    expect((await admitAt(tenantId, 'b', t + 30_000, scopes)).ok).toBe(true);
    // a request stamped 2 minutes earlier is judged at the object's time, where the window is full
    const late = await admitAt(tenantId, 'c', t - 120_000, scopes);
    expect(late.ok).toBe(false);
  });

  it('frees a lease whose request never released it when the alarm runs', async () => {
    const tenantId = unique('alarm');
    const stub = limiterOf(tenantId);
    const scopes: LimitScope[] = [{ id: 'key:k', rpm: null, maxConcurrent: 1 }];
    const now = Date.now();

    const first = await admitAt(tenantId, 'dies', now, scopes);
    expect(first.ok && first.leased).toBe(true);
    const second = await admitAt(tenantId, 'waits', now + 1, scopes);
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.refusal).toMatchObject({ kind: 'concurrency', scope: 'key:k', limit: 1 });
    expect(await stub.inspect('key:k', now + 1)).toMatchObject({ inFlight: 1 });

    // 'dies' never calls release; the alarm set for its lease's expiry frees the slot
    const scheduled = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(scheduled).toBe(now + 180_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.inspect('key:k', now + 2)).toMatchObject({ inFlight: 0 });
    const third = await admitAt(tenantId, 'next', now + 2, scopes);
    expect(third.ok && third.leased).toBe(true);
  });

  it('keeps the alarm at the earliest expiry and re-arms it for the leases still held', async () => {
    const tenantId = unique('rearm');
    const stub = limiterOf(tenantId);
    const scopes: LimitScope[] = [{ id: 'tenant', rpm: null, maxConcurrent: 5 }];
    const now = Date.now();
    await admitAt(tenantId, 'early', now, scopes, { leaseMs: 120_000 });
    await admitAt(tenantId, 'late', now, scopes, { leaseMs: 600_000 });
    await admitAt(tenantId, 'earliest', now, scopes, { leaseMs: 60_000 });
    const alarmAt = () => runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(await alarmAt()).toBe(now + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.inspect('tenant', now)).toMatchObject({ inFlight: 2 });
    expect(await alarmAt()).toBe(now + 120_000);
  });

  it('release gives the slot back at once, and releasing twice is harmless', async () => {
    const tenantId = unique('release');
    const stub = limiterOf(tenantId);
    const scopes: LimitScope[] = [
      { id: 'key:k', rpm: null, maxConcurrent: 1 },
      { id: 'tenant', rpm: null, maxConcurrent: 1 },
    ];
    const now = Date.now();
    expect((await admitAt(tenantId, 'one', now, scopes)).ok).toBe(true);
    expect((await admitAt(tenantId, 'two', now, scopes)).ok).toBe(false);
    await stub.release('one');
    await stub.release('one');
    const three = await admitAt(tenantId, 'three', now, scopes);
    expect(three.ok && three.leased).toBe(true);
    expect(await stub.inspect('tenant', now)).toMatchObject({ inFlight: 1 });
  });

  it('an rpm refusal records nothing, and a deferred slot refusal withdraws the admission', async () => {
    const tenantId = unique('withdraw');
    const stub = limiterOf(tenantId);
    const scopes: LimitScope[] = [{ id: 'tenant', rpm: 3, maxConcurrent: 1 }];
    const now = Date.now();
    const holder = await admitAt(tenantId, 'holder', now, scopes);
    expect(holder.ok && holder.leased).toBe(true);
    const maybeHit = await admitAt(tenantId, 'maybe', now, scopes, { deferSlot: true });
    expect(maybeHit.ok).toBe(true);
    if (!maybeHit.ok) return;
    expect(maybeHit.leased).toBe(false);
    expect(maybeHit.slotRefusal).toMatchObject({ kind: 'concurrency' });
    expect(await stub.inspect('tenant', now)).toEqual({ inFlight: 1, admittedInWindow: 2 });
    const lease = await stub.lease({ requestId: 'maybe', now, leaseMs: 60_000, scopes, admittedAt: maybeHit.at });
    expect(lease.ok).toBe(false);
    expect(await stub.inspect('tenant', now)).toEqual({ inFlight: 1, admittedInWindow: 1 });
    await stub.release('holder');
    const lease2 = await admitAt(tenantId, 'again', now, scopes, { deferSlot: true });
    expect(lease2.ok && lease2.leased).toBe(true);
  });
});
