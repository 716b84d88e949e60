import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { interceptStorage } from '../../src/services/storage-calls';
import { env as testEnv } from 'cloudflare:test';
import { requestLifetimes } from '../../src/domain/lifetimes';
import { originDeadlineMs } from '../../src/origins/config';
import { runHousekeeping } from '../../src/services/housekeeping';
import { call, genBody, loopback, originCalls, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { withFault, type FaultKind } from '../helpers/faults';
import { budgetState, ledger, reservationsOf } from '../helpers/money';
import { addKey, createTenantWithKey, type TenantKey } from '../helpers/tenants';
import { leaseOf, privateFlight, seededFromGenBody } from '../cache/support';

/*
 * The generation's critical path (the README's "Design", "What runs at the same time"): every
 * storage call is made to wait a fixed delay, as a deployed gateway waits for each round trip, and
 * the calls the answer waited for are counted the way the bench counts them — the longest chain of
 * calls each of which started after the previous one ended. Beside the counts, the money the
 * reordering could disturb: a follower's reservation, a follower without budget, a partial refusal.
 */

const DELAY_MS = 20;
const app = createApp();

interface TimedCall {
  label: string;
  start: number;
  end: number;
}

/** `base` with every storage round trip delayed and timed (workerd's clock moves across the delay). */
function timed(base: TestEnv): { env: TestEnv; calls: TimedCall[] } {
  const calls: TimedCall[] = [];
  const env = interceptStorage(base, async (call, run) => {
    // reading the body of an object `get` found streams the same answer: no round trip of its own (as the bench counts)
    if (call.op === 'read') return run();
    const start = Date.now();
    await new Promise((r) => setTimeout(r, DELAY_MS));
    try {
      return await run();
    } finally {
      calls.push({ label: `${call.binding}.${call.op}`, start, end: Date.now() });
    }
  });
  return { env, calls };
}

/** The longest chain of calls, each starting no earlier than the previous one ended. */
function longestChain(calls: TimedCall[]): string[] {
  const sorted = [...calls].sort((a, b) => a.start - b.start || a.end - b.end);
  const best = sorted.map((c) => [c.label]);
  sorted.forEach((c, i) => {
    for (let j = 0; j < i; j++) {
      if (sorted[j]!.end <= c.start && best[j]!.length + 1 > best[i]!.length) best[i] = [...best[j]!, c.label];
    }
  });
  return best.reduce<string[]>((a, b) => (b.length > a.length ? b : a), []);
}

/** One request through the app: its status and the chain of storage calls that ended before it answered. */
async function traced(tk: TenantKey, path: string, json: unknown, base: TestEnv): Promise<{ status: number; chain: string[] }> {
  const { env, calls } = timed(base);
  const ctx = createExecutionContext();
  const request = new Request(`http://gateway.test${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tk.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  const response = await app.fetch(request, env, ctx);
  await response.arrayBuffer();
  const answeredAt = Date.now();
  await waitOnExecutionContext(ctx);
  return { status: response.status, chain: longestChain(calls.filter((c) => c.end <= answeredAt)) };
}

describe('the critical path: storage round trips the answer waits for', () => {
  it('a miss waits for 4 (lookup, join ‖ reserve, store, settle); a hit for 2; a key with limits adds none', async () => {
    const tk = await createTenantWithKey({ key: { budget_usd: '1' } });
    const limited = await addKey(tk.tenantId, { rate_limit_rpm: 1000, max_concurrent: 10 });
    const { scenario, env } = loopback('critical-path');
    // the key's first request warms the isolate's caches (key, model rows), as in the bench
    await traced(tk, '/image/generation', genBody(scenario, { seed: 1 }), env);
    await traced(limited, '/image/generation', genBody(scenario, { seed: 2 }), env);

    const miss = await traced(tk, '/image/generation', genBody(scenario, { seed: 3 }), env);
    expect(miss.status).toBe(200);
    expect(miss.chain, miss.chain.join(' → ')).toHaveLength(4);
    const hit = await traced(tk, '/image/generation', genBody(scenario, { seed: 3 }), env);
    expect(hit.status).toBe(200);
    expect(hit.chain, hit.chain.join(' → ')).toEqual(['IMAGES.get', 'DB.batch']);
    const limitedMiss = await traced(limited, '/image/generation', genBody(scenario, { seed: 4 }), env);
    expect(limitedMiss.status).toBe(200);
    expect(limitedMiss.chain, limitedMiss.chain.join(' → ')).toHaveLength(4);
  });

  it('n=4 waits for no more than n=1', async () => {
    const tk = await createTenantWithKey({ key: { budget_usd: '1' } });
    const { scenario, env } = loopback('critical-path-n4');
    const body = (n: number, seed: number) => ({ prompt: `test image ${scenario}`, size: '256x256', n, seed });
    await traced(tk, '/v1/images/generations', body(1, 100), env);
    const one = await traced(tk, '/v1/images/generations', body(1, 200), env);
    const four = await traced(tk, '/v1/images/generations', body(4, 300), env);
    expect([one.status, four.status]).toEqual([200, 200]);
    // from the origin on each image goes its own way: one image's R2 put may end before another's
    // origin answered, which chains two puts though the answer waited only for the later one
    const steps = (chain: string[]) => chain.filter((label, i) => label !== chain[i - 1]);
    expect(steps(four.chain).length, four.chain.join(' → ')).toBeLessThanOrEqual(steps(one.chain).length);
    expect(one.chain.length, one.chain.join(' → ')).toBeLessThanOrEqual(4);
  });
});

/** Waits until a request of genBody(scenario, { seed }) leads its flight: the next identical one follows. */
async function leading(tenantId: string, scenario: string, seed: number): Promise<void> {
  const flight = await privateFlight(tenantId, seededFromGenBody(scenario, seed));
  for (let i = 0; i < 200 && !(await leaseOf(flight)); i++) await new Promise((r) => setTimeout(r, 5));
}

describe('join ‖ reserve keeps the money exact', () => {
  it("a follower's reservation made while it joined is given back: one coalesced row at cost 0, nothing held", async () => {
    const tk = await createTenantWithKey({ key: { budget_usd: '1' } });
    const { scenario, env } = loopback('withdrawn', 'slow-300');
    const lead = traced(tk, '/image/generation', genBody(scenario, { seed: 8 }), env);
    await leading(tk.tenantId, scenario, 8);
    const follow = await traced(tk, '/image/generation', genBody(scenario, { seed: 8 }), env);
    expect([(await lead).status, follow.status]).toEqual([200, 200]);
    expect(await originCalls(scenario)).toHaveLength(1);

    const rows = await ledger('key_id', tk.keyId);
    expect(rows.map((r) => [r.cache, r.cost_nano, r.status]).sort()).toEqual([
      ['coalesced', 0, 'ok'],
      ['miss', Number(IMAGE_NANO_256), 'ok'],
    ]);
    expect(new Set(rows.map((r) => r.generation_id)).size).toBe(2);
    expect(await reservationsOf(tk.keyId)).toBe(0);
    const key = await budgetState('key', tk.keyId);
    expect(key.reservedNano).toBe(0n);
    expect(key.spentNano).toBe(IMAGE_NANO_256);
  });

  it('a follower whose key has no budget left is still served, free: its refused reservation needs no retry', async () => {
    const leader = await createTenantWithKey({ key: { budget_usd: '1' } });
    const broke = await addKey(leader.tenantId, { budget_usd: '0' });
    const { scenario, env } = loopback('broke-follower', 'slow-300');
    const lead = traced(leader, '/image/generation', genBody(scenario, { seed: 9 }), env);
    await leading(leader.tenantId, scenario, 9);
    const follow = await traced(broke, '/image/generation', genBody(scenario, { seed: 9 }), env);
    expect((await lead).status).toBe(200);
    expect(follow.status).toBe(200);
    expect((await ledger('key_id', broke.keyId)).map((r) => [r.cache, r.cost_nano])).toEqual([['coalesced', 0]]);
    expect(await budgetState('key', broke.keyId)).toMatchObject({ spentNano: 0n, reservedNano: 0n });
  });

  it('a request refused for all its images is reserved again for the ones that lead, as if reserve had followed join', async () => {
    // the key can pay for one 256×256 image, not two: image seed 21 follows another key's request, seed 22 leads
    const other = await createTenantWithKey({ key: { budget_usd: '1' } });
    const tight = await addKey(other.tenantId, { budget_usd: (Number(IMAGE_NANO_256) / 1e9 + 1e-9).toFixed(9) });
    const { scenario, env } = loopback('partial-refusal', 'slow-300');
    const lead = traced(other, '/image/generation', genBody(scenario, { seed: 21 }), env);
    await leading(other.tenantId, scenario, 21);
    const both = await traced(tight, '/v1/images/generations', { prompt: `test image ${scenario}`, size: '256x256', n: 2, seed: 21 }, env);
    expect((await lead).status).toBe(200);
    expect(both.status).toBe(200);
    const rows = await ledger('key_id', tight.keyId);
    expect(rows.map((r) => [r.cache, r.cost_nano]).sort()).toEqual([
      ['coalesced', 0],
      ['miss', Number(IMAGE_NANO_256)],
    ]);
    expect(await budgetState('key', tight.keyId)).toMatchObject({ spentNano: IMAGE_NANO_256, reservedNano: 0n });
  });
});

describe("giving a follower's reservation back fails", () => {
  // the withdrawal's batch: it gives reservations back and writes no ledger row (release and settle do)
  const WITHDRAW = /^(?![\s\S]*usage_ledger)UPDATE api_keys SET reserved_nano = reserved_nano - r\.cost_nano/;

  for (const fault of ['throw', 'hang'] as FaultKind[]) {
    it(`${fault}: the follower answers 503 unavailable, charged nothing; what stays held the cron gives back`, async () => {
      const leader = await createTenantWithKey({ key: { budget_usd: '1' } });
      const follower = await addKey(leader.tenantId, { budget_usd: '1' });
      const { scenario, env } = loopback(`withdraw-${fault}`, 'slow-300');
      const faulty = withFault(env, { binding: 'DB', op: 'batch', match: WITHDRAW, fault });
      const body = genBody(scenario, { seed: 31 });
      const lead = call('POST', '/image/generation', { key: leader.key, json: body, env });
      await leading(leader.tenantId, scenario, 31);
      const r = await call('POST', '/image/generation', { key: follower.key, json: body, env: faulty.env });
      expect((await lead).status).toBe(200);
      expect(faulty.hits()).toBe(1);
      expectError(r, 503, 'unavailable');
      await faulty.letGo();

      await runHousekeeping(testEnv, Date.now() + requestLifetimes(originDeadlineMs(testEnv)).reservationMs + 1_000);
      expect(await budgetState('key', follower.keyId)).toMatchObject({ spentNano: 0n, reservedNano: 0n });
      const rows = await ledger('key_id', follower.keyId);
      expect(rows.every((row) => row.cost_nano === 0)).toBe(true);
      expect(await reservationsOf(follower.keyId)).toBe(0);
    });
  }
});

/** One 256×256 image at 30 steps: ceil(65,536 × 1,900,000 / 1,000,000). */
const IMAGE_NANO_256 = 124_519n;
