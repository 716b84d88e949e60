import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Coalescer } from '../../src/durable-objects/coalescer';
import { addKey, call, genBody, isPng, newTenantKey, originCalls, testOrigin, unique } from '../helpers/api';
import { bytesEqual, generateImage, only, privateFlight, seededFromGenBody, tenantSpent } from './support';

/** Waits (briefly) until the Coalescer has `n` requests queued behind its leader. */
async function waitersQueued(stub: DurableObjectStub<Coalescer>, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const size = await runInDurableObject(stub, (instance) => (instance as unknown as { waiters: Map<string, unknown> }).waiters.size);
    if (size >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never saw ${n} waiters`);
}

async function leaseOf(stub: DurableObjectStub<Coalescer>): Promise<{ request_id: string; lease_until: number } | null> {
  return runInDurableObject(stub, (_instance, state) => {
    const rows = state.storage.sql.exec<{ request_id: string; lease_until: number }>('SELECT request_id, lease_until FROM lead').toArray();
    return rows[0] ?? null;
  });
}

/** As if the leader's lease had run out: the alarm then finds it expired. */
async function expireLease(stub: DurableObjectStub<Coalescer>): Promise<void> {
  await runInDurableObject(stub, (_instance, state) => {
    state.storage.sql.exec('UPDATE lead SET lease_until = 0');
  });
}

describe('merging identical requests in flight', () => {
  it('20 concurrent identical seeded requests against a 1 s origin: one origin call, 20 identical answers, one charge', async () => {
    const { key } = await newTenantKey();
    const scenario = unique('twenty');
    const e = only(testOrigin(scenario, 'slow-1000'));
    const answers = await Promise.all(Array.from({ length: 20 }, () => generateImage(key, genBody(scenario, { seed: 99 }), { env: e })));

    expect(await originCalls(scenario)).toHaveLength(1);
    for (const a of answers) {
      expect(a.status, a.text()).toBe(200);
      expect(isPng(a.bytes)).toBe(true);
      expect(bytesEqual(a.bytes, answers[0]!.bytes)).toBe(true);
      expect(a.headers.get('imagegate-seed')).toBe('99');
    }
    const statuses = answers.map((a) => a.headers.get('cache-status'));
    expect(statuses.filter((s) => s === 'imagegate; fwd=miss; stored')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'imagegate; hit; detail=coalesced').length).toBeGreaterThanOrEqual(1);
    const leader = answers.find((a) => a.headers.get('cache-status') === 'imagegate; fwd=miss; stored')!;
    const cost = leader.headers.get('imagegate-cost-usd');
    expect(cost).not.toBe('0');
    for (const a of answers.filter((x) => x !== leader)) {
      expect(['imagegate; hit; detail=coalesced', 'imagegate; hit']).toContain(a.headers.get('cache-status'));
      expect(a.headers.get('imagegate-cost-usd')).toBe('0');
      expect(a.headers.get('imagegate-origin')).toBe('cache');
    }
    // charged exactly once: the tenant's spend is the one miss's cost
    expect(await tenantSpent(key)).toBe(cost);
  });

  it('says "coalesced" in the JSON answer of a follower, at cost 0', async () => {
    const { key } = await newTenantKey();
    const scenario = unique('coalesced-json');
    const e = only(testOrigin(scenario, 'slow-300'));
    const headers = { accept: 'application/json' };
    const [a, b] = await Promise.all([
      generateImage(key, genBody(scenario, { seed: 3 }), { env: e, headers }),
      generateImage(key, genBody(scenario, { seed: 3 }), { env: e, headers }),
    ]);
    const caches = [a!.json().cache, b!.json().cache].sort();
    expect(caches).toEqual(['coalesced', 'miss']);
    const follower = a!.json().cache === 'coalesced' ? a! : b!;
    expect(follower.json().cost_usd).toBe('0');
    expect(follower.json().image_base64).toBe((follower === a ? b! : a!).json().image_base64);
    expect(await originCalls(scenario)).toHaveLength(1);
  });

  it('does not merge across private tenants, nor no-cache / no-store / unseeded requests', async () => {
    const a = await newTenantKey();
    const b = await newTenantKey();
    const scenario = unique('no-merge');
    const e = only(testOrigin(scenario, 'slow-300'));
    const answers = await Promise.all([
      generateImage(a.key, genBody(scenario, { seed: 5 }), { env: e }),
      generateImage(b.key, genBody(scenario, { seed: 5 }), { env: e }),
      generateImage(a.key, genBody(scenario, { seed: 5 }), { env: e, headers: { 'cache-control': 'no-cache' } }),
      generateImage(a.key, genBody(scenario, { seed: 5 }), { env: e, headers: { 'cache-control': 'no-store' } }),
      generateImage(a.key, genBody(scenario), { env: e }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((r) => r.headers.get('cache-status'))).toEqual([
      'imagegate; fwd=miss; stored',
      'imagegate; fwd=miss; stored',
      'imagegate; fwd=request; stored',
      'imagegate; fwd=request',
      'imagegate; fwd=bypass; stored',
    ]);
    expect(await originCalls(scenario)).toHaveLength(5);
  });

  it('fails the followers cleanly, uncharged, with the error the origin gave the leader', async () => {
    const { key, tenantId } = await newTenantKey();
    const scenario = unique('leader-fails');
    const e = only(testOrigin(scenario, 'hang', { timeout_ms: 1_000 }));
    const answers = await Promise.all(Array.from({ length: 3 }, () => generateImage(key, genBody(scenario, { seed: 14 }), { env: e })));
    for (const a of answers) {
      expect(a.status).toBe(504);
      expect(a.json().error.code).toBe('origin_timeout');
    }
    expect(await originCalls(scenario)).toHaveLength(1);
    expect(await tenantSpent(key)).toBe('0');
    // every one of the three ended without an image, and the usage report counts each as failed
    const usage = await call('GET', `/admin/usage?tenant_id=${tenantId}&group_by=tenant`, { admin: true });
    expect(usage.json().total).toMatchObject({ requests: 3, failed: 3, cache_hits: 0, cost_usd: '0' });
  });

  it('a follower takes over when the leader dies: the alarm at the end of its lease hands over', async () => {
    const { key, tenantId } = await newTenantKey();
    const scenario = unique('dead-leader');
    const stub = await privateFlight(tenantId, seededFromGenBody(scenario, 31));
    // a leader whose Worker then dies without a word
    expect(await stub.join('ghost', 60_000)).toMatchObject({ role: 'leader' });

    const pending = generateImage(key, genBody(scenario, { seed: 31 }), { env: only(testOrigin(scenario, 'png')) });
    await waitersQueued(stub, 1);
    // an alarm before the lease ends changes nothing
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await leaseOf(stub))?.request_id).toBe('ghost');

    await expireLease(stub);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const answer = await pending;
    expect(answer.status, answer.text()).toBe(200);
    expect(answer.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(answer.headers.get('imagegate-cost-usd')).not.toBe('0');
    expect(await originCalls(scenario)).toHaveLength(1);
    expect(await tenantSpent(key)).toBe(answer.headers.get('imagegate-cost-usd'));
    // the new leader reported its image, so nobody holds the lease
    expect(await leaseOf(stub)).toBeNull();
    // the dead leader's late report is harmless
    await stub.finish('ghost', { kind: 'failed', code: 'origin_error', message: 'late' });
    const hit = await generateImage(key, genBody(scenario, { seed: 31 }), { env: only(testOrigin(scenario, 'png')) });
    expect(hit.headers.get('cache-status')).toBe('imagegate; hit');
  });

  it('a follower that cannot pay hands over to the next one, which pays for the image', async () => {
    const { key, tenantId } = await newTenantKey();
    const broke = await addKey(tenantId, { budget_usd: '0' });
    const scenario = unique('handover');
    const e = only(testOrigin(scenario, 'png'));
    const stub = await privateFlight(tenantId, seededFromGenBody(scenario, 41));
    expect(await stub.join('ghost', 60_000)).toMatchObject({ role: 'leader' });

    const first = generateImage(broke.key, genBody(scenario, { seed: 41 }), { env: e });
    await waitersQueued(stub, 1);
    const second = generateImage(key, genBody(scenario, { seed: 41 }), { env: e });
    await waitersQueued(stub, 2);
    await stub.finish('ghost', { kind: 'handover' });

    const [refused, paid] = await Promise.all([first, second]);
    expect(refused.status).toBe(402);
    expect(refused.json().error.code).toBe('budget_exceeded');
    expect(paid.status, paid.text()).toBe(200);
    expect(paid.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(await originCalls(scenario)).toHaveLength(1);
    expect(await tenantSpent(key)).toBe(paid.headers.get('imagegate-cost-usd'));
    expect(await leaseOf(stub)).toBeNull();
  });

  it('a leader refused by its budget gives up the lead at once, so the next identical request does not wait for it', async () => {
    const { key, tenantId } = await newTenantKey();
    const broke = await addKey(tenantId, { budget_usd: '0' });
    const scenario = unique('broke-leader');
    const e = only(testOrigin(scenario, 'png'));
    const stub = await privateFlight(tenantId, seededFromGenBody(scenario, 51));
    const r = await generateImage(broke.key, genBody(scenario, { seed: 51 }), { env: e });
    expect(r.status).toBe(402);
    expect(r.json().error.code).toBe('budget_exceeded');
    expect(await originCalls(scenario)).toHaveLength(0);
    expect(await leaseOf(stub)).toBeNull();

    const started = Date.now();
    const next = await generateImage(key, genBody(scenario, { seed: 51 }), { env: e });
    expect(next.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await tenantSpent(key)).toBe(next.headers.get('imagegate-cost-usd'));
  });
});

describe('the Coalescer object', () => {
  function flight(): DurableObjectStub<Coalescer> {
    return env.COALESCER.get(env.COALESCER.idFromName(unique('flight')));
  }

  it('gives every follower the outcome the leader reports, then lets the next caller lead', async () => {
    const stub = flight();
    expect(await stub.join('a', 60_000)).toMatchObject({ role: 'leader' });
    expect(await stub.join('a', 60_000)).toMatchObject({ role: 'leader' });
    expect(await stub.join('b', 60_000)).toEqual({ role: 'follower' });
    expect(await stub.join('c', 60_000)).toEqual({ role: 'follower' });
    const waits = [stub.wait('b', 60_000), stub.wait('c', 60_000)];
    await stub.finish('b', { kind: 'failed', code: 'origin_error', message: 'not the leader' }); // ignored
    await stub.finish('a', { kind: 'failed', code: 'origin_error', message: 'origin said 500' });
    expect(await Promise.all(waits)).toEqual([
      { outcome: 'failed', code: 'origin_error', message: 'origin said 500' },
      { outcome: 'failed', code: 'origin_error', message: 'origin said 500' },
    ]);
    expect(await stub.join('d', 60_000)).toMatchObject({ role: 'leader' });
    await stub.finish('d', { kind: 'ready' });
    expect(await leaseOf(stub)).toBeNull();
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBeNull();
  });

  it('hands over in queue order, skipping a follower that stopped waiting or left', async () => {
    const stub = flight();
    await stub.join('a', 60_000);
    await stub.join('b', 60_000);
    await stub.join('c', 60_000);
    await stub.join('d', 60_000);
    expect(await stub.wait('b', 20)).toEqual({ outcome: 'timeout' });
    await stub.finish('c', { kind: 'handover' }); // c's request failed elsewhere: it leaves the queue
    const d = stub.wait('d', 60_000);
    await stub.finish('a', { kind: 'handover' });
    expect(await d).toMatchObject({ outcome: 'lead' });
    expect((await leaseOf(stub))?.request_id).toBe('d');
    // a leader with nobody behind it that gives up leaves the object empty
    await stub.finish('d', { kind: 'handover' });
    expect(await leaseOf(stub)).toBeNull();
  });

  it('answers "unknown" to a wait it has no record of, and lets a caller lead over an expired lease', async () => {
    const stub = flight();
    expect(await stub.wait('stranger', 1_000)).toEqual({ outcome: 'unknown' });
    await stub.join('a', 60_000);
    await expireLease(stub);
    expect(await stub.join('b', 60_000)).toMatchObject({ role: 'leader' });
    expect((await leaseOf(stub))?.request_id).toBe('b');
  });

  it('keeps the lease and its alarm in storage, and frees waiters when any holder stores the image', async () => {
    const stub = flight();
    const joined = await stub.join('a', 30_000);
    expect(joined.role).toBe('leader');
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(joined.role === 'leader' ? joined.leaseUntil : -1);
    await stub.join('b', 30_000);
    await stub.join('c', 30_000);
    const c = stub.wait('c', 60_000);
    await expireLease(stub);
    await runDurableObjectAlarm(stub); // b leads now, c still waits
    expect((await leaseOf(stub))?.request_id).toBe('b');
    await stub.finish('a', { kind: 'ready' }); // the presumed-dead leader did store the image after all
    expect(await c).toEqual({ outcome: 'ready' });
  });
});
