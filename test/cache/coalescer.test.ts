import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Coalescer } from '../../src/durable-objects/coalescer';
import { unique } from '../helpers/api';
import { alarmOf, expectLeftEmpty, expireLease, leaseOf, leasesIn, queued, stillPending, type ShardFlight } from './support';

describe('the Coalescer object', () => {
  /** A flight in a fresh shard object. */
  function shard(flightKey = 'k'): ShardFlight {
    return { stub: env.COALESCER.get(env.COALESCER.idFromName(unique('shard'))), flightKey };
  }

  it('gives every follower the outcome the leader reports, then lets the next caller lead', async () => {
    const f = shard();
    const { stub, flightKey: k } = f;
    expect(await stub.join(k, 'a', 60_000)).toMatchObject({ role: 'leader' });
    expect(await stub.join(k, 'a', 60_000)).toMatchObject({ role: 'leader' });
    expect(await stub.join(k, 'b', 60_000)).toEqual({ role: 'follower' });
    expect(await stub.join(k, 'c', 60_000)).toEqual({ role: 'follower' });
    const waits = [stub.wait(k, 'b', 60_000), stub.wait(k, 'c', 60_000)];
    await stub.finish(k, 'b', { kind: 'failed', code: 'origin_error', message: 'not the leader' }); // ignored
    await stub.finish(k, 'a', { kind: 'failed', code: 'origin_error', message: 'origin said 500' });
    expect(await Promise.all(waits)).toEqual([
      { outcome: 'failed', code: 'origin_error', message: 'origin said 500' },
      { outcome: 'failed', code: 'origin_error', message: 'origin said 500' },
    ]);
    // a failure is not remembered: the next caller tries the origin again
    expect(await stub.join(k, 'd', 60_000)).toMatchObject({ role: 'leader' });
    await stub.finish(k, 'd', { kind: 'ready' });
    await expectLeftEmpty(f);
  });

  it('hands over in queue order, skipping a follower that stopped waiting or left', async () => {
    const f = shard();
    const { stub, flightKey: k } = f;
    await stub.join(k, 'a', 60_000);
    await stub.join(k, 'b', 60_000);
    await stub.join(k, 'c', 60_000);
    await stub.join(k, 'd', 60_000);
    expect(await stub.wait(k, 'b', 20)).toEqual({ outcome: 'timeout' });
    await stub.finish(k, 'c', { kind: 'handover' }); // c's request failed elsewhere: it leaves the queue
    const d = stub.wait(k, 'd', 60_000);
    await stub.finish(k, 'a', { kind: 'handover' });
    expect(await d).toMatchObject({ outcome: 'lead' });
    expect((await leaseOf(f))?.request_id).toBe('d');
    // a leader with nobody behind it that gives up leaves the object empty
    await stub.finish(k, 'd', { kind: 'handover' });
    await expectLeftEmpty(f);
  });

  it('answers "unknown" to a wait it has no record of, and lets a caller lead over an expired lease', async () => {
    const f = shard();
    const { stub, flightKey: k } = f;
    expect(await stub.wait(k, 'stranger', 1_000)).toEqual({ outcome: 'unknown' });
    await stub.join(k, 'a', 60_000);
    expect(await stub.wait('another-flight', 'a', 1_000)).toEqual({ outcome: 'unknown' });
    await expireLease(f);
    expect(await stub.join(k, 'b', 60_000)).toMatchObject({ role: 'leader' });
    expect((await leaseOf(f))?.request_id).toBe('b');
  });

  it('keeps the lease and its alarm in storage, and frees waiters when any holder stores the image', async () => {
    const f = shard();
    const { stub, flightKey: k } = f;
    const joined = await stub.join(k, 'a', 30_000);
    expect(joined.role).toBe('leader');
    const alarm = await alarmOf(stub);
    expect(alarm).toBe(joined.role === 'leader' ? joined.leaseUntil : -1);
    await stub.join(k, 'b', 30_000);
    await stub.join(k, 'c', 30_000);
    const c = stub.wait(k, 'c', 60_000);
    await expireLease(f);
    await runDurableObjectAlarm(stub); // b leads now, c still waits
    expect((await leaseOf(f))?.request_id).toBe('b');
    await stub.finish(k, 'a', { kind: 'ready' }); // the presumed-dead leader did store the image after all
    expect(await c).toEqual({ outcome: 'ready' });
  });

  it('holds many flights apart: each has its own leader, followers and outcome', async () => {
    const { stub } = shard();
    expect(await stub.join('k1', 'a', 60_000)).toMatchObject({ role: 'leader' });
    expect(await stub.join('k2', 'b', 60_000)).toMatchObject({ role: 'leader' });
    expect(await stub.join('k1', 'c', 60_000)).toEqual({ role: 'follower' });
    expect(await stub.join('k2', 'd', 60_000)).toEqual({ role: 'follower' });
    const c = stub.wait('k1', 'c', 60_000);
    const d = stub.wait('k2', 'd', 60_000);
    await stub.finish('k1', 'b', { kind: 'failed', code: 'origin_error', message: 'b leads k2, not k1' }); // ignored
    await stub.finish('k1', 'a', { kind: 'failed', code: 'origin_error', message: 'k1 failed' });
    expect(await c).toEqual({ outcome: 'failed', code: 'origin_error', message: 'k1 failed' });
    expect(await stillPending(d)).toBe(true);
    await stub.finish('k2', 'b', { kind: 'ready' });
    expect(await d).toEqual({ outcome: 'ready' });
    expect(await leasesIn(stub)).toEqual({});
  });

  it('sets one alarm for the earliest lease, and the alarm expires only the flights whose lease passed', async () => {
    const { stub } = shard();
    const early: ShardFlight = { stub, flightKey: 'early' };
    const late: ShardFlight = { stub, flightKey: 'late' };
    await stub.join('late', 'a', 60_000);
    const first = await stub.join('early', 'b', 30_000);
    expect(await alarmOf(stub)).toBe(first.role === 'leader' ? first.leaseUntil : -1);
    await stub.join('late', 'c', 60_000);
    await stub.join('early', 'd', 60_000);
    const c = stub.wait('late', 'c', 60_000);
    const d = stub.wait('early', 'd', 60_000);

    await expireLease(early);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await d).toMatchObject({ outcome: 'lead' });
    expect(await leasesIn(stub)).toEqual({ early: 'd', late: 'a' });
    expect(await stillPending(c)).toBe(true);
    expect(await queued(late)).toBe(1);
    // re-armed for the earliest lease still held (d's new one, or a's)
    const held = [(await leaseOf(early))!.lease_until, (await leaseOf(late))!.lease_until];
    expect(await alarmOf(stub)).toBe(Math.min(...held));

    // an alarm with nothing expired hands nothing over
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await leasesIn(stub)).toEqual({ early: 'd', late: 'a' });
    await stub.finish('late', 'a', { kind: 'ready' });
    expect(await c).toEqual({ outcome: 'ready' });
    await stub.finish('early', 'd', { kind: 'ready' });
    expect(await alarmOf(stub)).toBeNull();
  });

  it('sends a caller to the cache when its flight stored the image moments ago, until the cache says otherwise', async () => {
    const f = shard();
    const { stub, flightKey: k } = f;
    await stub.join(k, 'a', 60_000);
    await stub.finish(k, 'a', { kind: 'ready' });
    expect(await stub.join(k, 'b', 60_000)).toEqual({ role: 'ready' });
    expect(await stub.join('other', 'b', 60_000)).toMatchObject({ role: 'leader' });
    expect(await leaseOf(f)).toBeNull();
    // b read the cache and found nothing: it leads, and nobody else is sent to the cache meanwhile
    expect(await stub.join(k, 'b', 60_000, { cacheMissedAfterReady: true })).toMatchObject({ role: 'leader' });
    expect(await stub.join(k, 'c', 60_000)).toEqual({ role: 'follower' });
    await stub.finish(k, 'b', { kind: 'ready' });
    expect(await stub.join(k, 'e', 60_000)).toEqual({ role: 'ready' });
    // the mark is forgotten after a while (30 s)
    await runInDurableObject(stub, (instance) => {
      (instance as Coalescer)['recentReady'].set(k, Date.now() - 31_000);
    });
    expect(await stub.join(k, 'e', 60_000)).toMatchObject({ role: 'leader' });
  });
});
