import { env, runInDurableObject } from 'cloudflare:test';
import { expect } from 'vitest';
import { cacheKey, coalescerShardName } from '../../src/domain/cache-key';
import type { SeededRequest } from '../../src/domain/generation-request';
import type { Coalescer } from '../../src/durable-objects/coalescer';
import { call, DEFAULT_MODEL, envWith, type CallOptions, type CallResult, type TestEnv } from '../helpers/api';

/** One Qubrid-route generation. */
export function generateImage(key: string, json: unknown, options: Omit<CallOptions, 'key' | 'json'> = {}): Promise<CallResult> {
  return call('POST', '/image/generation', { key, json, ...options });
}

/** The R2 cache objects under a tenant's private prefix. */
export async function privateEntries(tenantId: string): Promise<R2Object[]> {
  // `include` is honoured by R2 but missing from this version of the types
  const options = { prefix: `cache/t/${tenantId}/`, include: ['customMetadata'] } as R2ListOptions;
  return (await env.IMAGES.list(options)).objects;
}

/** What genBody(tag, { seed }) becomes once defaults are written out: the request a cache key is made from. */
export function seededFromGenBody(tag: string, seed: number): SeededRequest {
  return {
    model: DEFAULT_MODEL,
    prompt: `test image ${tag}`,
    negative_prompt: '',
    width: 256,
    height: 256,
    steps: 30,
    cfg: 7.5,
    seed,
    output_format: 'png',
  };
}

/** A flight in a Coalescer shard: the object (`stub`) and the flight's key within it. */
export interface ShardFlight {
  stub: DurableObjectStub<Coalescer>;
  flightKey: string;
}

/** The Coalescer shard of a tenant's private entry of `request`, and the entry's flight in it. */
export async function privateFlight(tenantId: string, request: SeededRequest): Promise<ShardFlight> {
  const flightKey = await cacheKey(request);
  const name = coalescerShardName({ scope: 'private', tenantId }, flightKey);
  return { stub: env.COALESCER.get(env.COALESCER.idFromName(name)), flightKey };
}

/** An environment whose only origin is `origin`. */
export function only(origin: Record<string, unknown>): TestEnv {
  return envWith([origin]);
}

/** Waits (briefly) until the flight has `n` requests queued behind its leader. */
export async function waitersQueued({ stub, flightKey }: ShardFlight, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await queued({ stub, flightKey })) >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never saw ${n} waiters`);
}

export async function queued({ stub, flightKey }: ShardFlight): Promise<number> {
  return runInDurableObject(stub, (instance) => (instance as Coalescer)['waiters'].get(flightKey)?.size ?? 0);
}

export async function leaseOf({ stub, flightKey }: ShardFlight): Promise<{ request_id: string; lease_until: number } | null> {
  return runInDurableObject(stub, (_instance, state) => {
    const rows = state.storage.sql
      .exec<{ request_id: string; lease_until: number }>('SELECT request_id, lease_until FROM flight WHERE flight_key = ?', flightKey)
      .toArray();
    return rows[0] ?? null;
  });
}

/** When the shard object's alarm will ring (epoch ms), or null when none is set. */
export async function alarmOf(stub: DurableObjectStub<Coalescer>): Promise<number | null> {
  return runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
}

/** The flight has left nothing behind: no lease, and no alarm that would wake the object for it. */
export async function expectLeftEmpty(f: ShardFlight): Promise<void> {
  expect(await leaseOf(f)).toBeNull();
  expect(await alarmOf(f.stub)).toBeNull();
}

/** Every lease the shard object holds, by flight key. */
export async function leasesIn(stub: DurableObjectStub<Coalescer>): Promise<Record<string, string>> {
  return runInDurableObject(stub, (_instance, state) => {
    const rows = state.storage.sql.exec<{ flight_key: string; request_id: string }>('SELECT flight_key, request_id FROM flight').toArray();
    return Object.fromEntries(rows.map((r) => [r.flight_key, r.request_id]));
  });
}

/** As if the flight's leader's lease had run out: the alarm then finds it expired. */
export async function expireLease({ stub, flightKey }: ShardFlight): Promise<void> {
  await runInDurableObject(stub, (_instance, state) => {
    state.storage.sql.exec('UPDATE flight SET lease_until = 0 WHERE flight_key = ?', flightKey);
  });
}

/** Whether `promise` is still pending after a short while. */
export async function stillPending(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  return (await Promise.race([promise, new Promise((r) => setTimeout(() => r(pending), 50))])) === pending;
}
