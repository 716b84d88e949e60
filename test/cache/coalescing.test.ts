import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/domain/cache-key';
import { bytesEqual, call, genBody, isPng, loopback, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState, nanoOfUsd } from '../helpers/money';
import { addKey, createTenantWithKey } from '../helpers/tenants';
import { alarmOf, expireLease, generateImage, leaseOf, leasesIn, only, privateFlight, queued, seededFromGenBody, waitersQueued } from './support';

describe('merging identical requests in flight', () => {
  it('20 concurrent identical seeded requests against a 1 s origin: one origin call, 20 identical answers, one charge', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('twenty', 'slow-1000');
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
    expect((await budgetState('tenant', tenantId)).spentNano).toBe(nanoOfUsd(cost));
  });

  it('says "coalesced" in the JSON answer of a follower, at cost 0', async () => {
    const { key } = await createTenantWithKey();
    const { scenario, env: e } = loopback('coalesced-json', 'slow-300');
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
    const a = await createTenantWithKey();
    const b = await createTenantWithKey();
    const { scenario, env: e } = loopback('no-merge', 'slow-300');
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
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('leader-fails', 'hang', { timeout_ms: 1_000 });
    const answers = await Promise.all(Array.from({ length: 3 }, () => generateImage(key, genBody(scenario, { seed: 14 }), { env: e })));
    for (const a of answers) {
      expectError(a, 504, 'origin_timeout');
    }
    expect(await originCalls(scenario)).toHaveLength(1);
    expect((await budgetState('tenant', tenantId)).spentNano).toBe(0n);
    // every one of the three ended without an image, and the usage report counts each as failed
    const usage = await call('GET', `/admin/usage?tenant_id=${tenantId}&group_by=tenant`, { admin: true });
    expect(usage.json().total).toMatchObject({ requests: 3, failed: 3, cache_hits: 0, cost_usd: '0' });
  });

  it('a follower takes over when the leader dies: the alarm at the end of its lease hands over', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const scenario = unique('dead-leader');
    const f = await privateFlight(tenantId, seededFromGenBody(scenario, 31));
    const { stub, flightKey } = f;
    // a leader whose Worker then dies without a word
    expect(await stub.join(flightKey, 'ghost', 60_000)).toMatchObject({ role: 'leader' });

    const pending = generateImage(key, genBody(scenario, { seed: 31 }), { env: only(testOrigin(scenario, 'png')) });
    await waitersQueued(f, 1);
    // an alarm before the lease ends changes nothing
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await leaseOf(f))?.request_id).toBe('ghost');

    await expireLease(f);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const answer = await pending;
    expect(answer.status, answer.text()).toBe(200);
    expect(answer.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(answer.headers.get('imagegate-cost-usd')).not.toBe('0');
    expect(await originCalls(scenario)).toHaveLength(1);
    expect((await budgetState('tenant', tenantId)).spentNano).toBe(nanoOfUsd(answer.headers.get('imagegate-cost-usd')));
    // the new leader reported its image, so nobody holds the lease
    expect(await leaseOf(f)).toBeNull();
    // the dead leader's late report is harmless
    await stub.finish(flightKey, 'ghost', { kind: 'failed', code: 'origin_error', message: 'late' });
    const hit = await generateImage(key, genBody(scenario, { seed: 31 }), { env: only(testOrigin(scenario, 'png')) });
    expect(hit.headers.get('cache-status')).toBe('imagegate; hit');
  });

  it('a follower that cannot pay hands over to the next one, which pays for the image', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const broke = await addKey(tenantId, { budget_usd: '0' });
    const { scenario, env: e } = loopback('handover');
    const f = await privateFlight(tenantId, seededFromGenBody(scenario, 41));
    expect(await f.stub.join(f.flightKey, 'ghost', 60_000)).toMatchObject({ role: 'leader' });

    const first = generateImage(broke.key, genBody(scenario, { seed: 41 }), { env: e });
    await waitersQueued(f, 1);
    const second = generateImage(key, genBody(scenario, { seed: 41 }), { env: e });
    await waitersQueued(f, 2);
    await f.stub.finish(f.flightKey, 'ghost', { kind: 'handover' });

    const [refused, paid] = await Promise.all([first, second]);
    expectError(refused, 402, 'budget_exceeded');
    expect(paid.status, paid.text()).toBe(200);
    expect(paid.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(await originCalls(scenario)).toHaveLength(1);
    expect((await budgetState('tenant', tenantId)).spentNano).toBe(nanoOfUsd(paid.headers.get('imagegate-cost-usd')));
    expect(await leaseOf(f)).toBeNull();
  });

  it('a leader refused by its budget gives up the lead at once, so the next identical request does not wait for it', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const broke = await addKey(tenantId, { budget_usd: '0' });
    const { scenario, env: e } = loopback('broke-leader');
    const f = await privateFlight(tenantId, seededFromGenBody(scenario, 51));
    const r = await generateImage(broke.key, genBody(scenario, { seed: 51 }), { env: e });
    expectError(r, 402, 'budget_exceeded');
    expect(await originCalls(scenario)).toHaveLength(0);
    expect(await leaseOf(f)).toBeNull();

    const started = Date.now();
    const next = await generateImage(key, genBody(scenario, { seed: 51 }), { env: e });
    expect(next.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await budgetState('tenant', tenantId)).spentNano).toBe(nanoOfUsd(next.headers.get('imagegate-cost-usd')));
  });

  it('two different requests in the same shard lead independently: two origin calls, neither waits for the other', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const scenario = unique('same-shard');
    const [s1, s2] = await sameShardSeeds(scenario);
    const f1 = await privateFlight(tenantId, seededFromGenBody(scenario, s1));
    const f2 = await privateFlight(tenantId, seededFromGenBody(scenario, s2));
    expect(f1.stub.id.equals(f2.stub.id)).toBe(true);
    expect(f1.flightKey).not.toBe(f2.flightKey);

    const e = only(testOrigin(scenario, 'slow-1000'));
    const pending = [s1, s2].map((seed) => generateImage(key, genBody(scenario, { seed }), { env: e }));
    // while both are at the origin, the one object holds both leases and queues nobody
    let leases: Record<string, string> = {};
    for (let i = 0; i < 200 && Object.keys(leases).length < 2; i++) {
      leases = await leasesIn(f1.stub);
      if (Object.keys(leases).length < 2) await new Promise((r) => setTimeout(r, 10));
    }
    expect(Object.keys(leases).sort()).toEqual([f1.flightKey, f2.flightKey].sort());
    expect(await queued(f1)).toBe(0);
    expect(await queued(f2)).toBe(0);

    const answers = await Promise.all(pending);
    for (const a of answers) {
      expect(a.status, a.text()).toBe(200);
      expect(a.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
      expect(a.headers.get('imagegate-cost-usd')).not.toBe('0');
    }
    expect(bytesEqual(answers[0]!.bytes, answers[1]!.bytes)).toBe(false);
    expect(await originCalls(scenario)).toHaveLength(2);
    expect(await leasesIn(f1.stub)).toEqual({});
    expect(await alarmOf(f1.stub)).toBeNull();
  });

  it('a request whose lookup came just before its flight stored the image reads the cache, not the origin', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('late-ready');
    const f = await privateFlight(tenantId, seededFromGenBody(scenario, 61));
    // a leader at the origin…
    expect(await f.stub.join(f.flightKey, 'ghost', 60_000)).toMatchObject({ role: 'leader' });
    // …whose image lands in the cache (put there by a no-cache request, which neither looks up nor joins)…
    const stored = await generateImage(key, genBody(scenario, { seed: 61 }), { env: e, headers: { 'cache-control': 'no-cache' } });
    expect(stored.headers.get('cache-status')).toBe('imagegate; fwd=request; stored');
    expect(await originCalls(scenario)).toHaveLength(1);
    // …and which reports it right after the next request's lookup found nothing
    const images = missFirstLookup(() => f.stub.finish(f.flightKey, 'ghost', { kind: 'ready' }));
    const r = await generateImage(key, genBody(scenario, { seed: 61 }), { env: { ...e, IMAGES: images } });

    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('cache-status')).toBe('imagegate; hit');
    expect(r.headers.get('imagegate-cost-usd')).toBe('0');
    expect(bytesEqual(r.bytes, stored.bytes)).toBe(true);
    expect(await originCalls(scenario)).toHaveLength(1);
    expect(await leaseOf(f)).toBeNull();
  });

  it('a "ready" flight whose entry is not in the cache lets the request lead after all', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const scenario = unique('ready-missing');
    const f = await privateFlight(tenantId, seededFromGenBody(scenario, 71));
    await f.stub.join(f.flightKey, 'ghost', 60_000);
    await f.stub.finish(f.flightKey, 'ghost', { kind: 'ready' }); // but nothing was stored
    const r = await generateImage(key, genBody(scenario, { seed: 71 }), { env: only(testOrigin(scenario, 'png')) });
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(await originCalls(scenario)).toHaveLength(1);
    expect((await budgetState('tenant', tenantId)).spentNano).toBe(nanoOfUsd(r.headers.get('imagegate-cost-usd')));
    expect(await leaseOf(f)).toBeNull();
  });
});

/** Two seeds whose entries (of genBody(scenario, { seed })) fall in the same Coalescer shard. */
async function sameShardSeeds(scenario: string): Promise<[number, number]> {
  const seen = new Map<string, number>();
  for (let seed = 1; ; seed++) {
    const digit = (await cacheKey(seededFromGenBody(scenario, seed))).slice(0, 1);
    const other = seen.get(digit);
    if (other !== undefined) return [other, seed];
    seen.set(digit, seed);
  }
}

/**
 * The cache bucket, except that the first lookup of an entry misses and runs `meanwhile` first: as
 * if the entry were stored (and its flight reported) just after the lookup.
 */
function missFirstLookup(meanwhile: () => Promise<unknown>): R2Bucket {
  let missed = false;
  return new Proxy<R2Bucket>(env.IMAGES, {
    get(target, prop) {
      if (prop === 'get') {
        return async (key: string, options?: R2GetOptions) => {
          if (missed || !key.startsWith('cache/')) return target.get(key, options);
          missed = true;
          await meanwhile();
          return null;
        };
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
