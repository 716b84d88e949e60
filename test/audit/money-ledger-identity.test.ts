import { describe, expect, it } from 'vitest';
import { call, envWith, genBody, originCalls, scriptOrigin, testOrigin, unique } from '../helpers/api';
import { budgetState, expectBooksBalanced, ledger } from '../helpers/money';
import { addKey, createTenantWithKey } from '../helpers/tenants';

/*
 * docs/money.md: "Every settled charge is one row of the usage ledger … The sum of the ledger equals
 * what the budgets say was spent", and a hit, a coalesced follower, a failure, a timeout and a
 * replay cost 0 (docs/README.md: never charged twice). One key lives through all of them; the books must
 * balance, and the sum of the Imagegate-Cost-USD headers must be exactly what was spent.
 */
const GEN = '/image/generation';
const nanoOf = (usd: string | null) => {
  const [whole = '0', fraction = ''] = (usd ?? 'x').split('.');
  return BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0'));
};

describe('audit docs/money.md: the ledger sums to spent through every kind of outcome', () => {
  it('misses, hits, failures, timeouts, coalesced followers, replays and n > 1', async () => {
    const tk = await createTenantWithKey({ tenant: { budget_usd: '5' }, key: { budget_usd: '1' } });
    const sibling = await addKey(tk.tenantId, { budget_usd: '1' });
    const scenario = unique('books');
    const env = envWith([testOrigin(scenario, 'png', { timeout_ms: 700 })]);
    let headerSum = 0n;
    const track = (r: { status: number; headers: Headers }) => {
      if (r.status === 200) headerSum += nanoOf(r.headers.get('imagegate-cost-usd'));
      else expect(r.headers.get('imagegate-cost-usd')).toBeNull();
    };

    // a miss, then the same seeded request as a hit
    const seeded = genBody(`${scenario}-a`, { seed: 7 });
    for (let i = 0; i < 2; i++) track(await call('POST', GEN, { key: tk.key, env, json: seeded }));
    // a 5xx, then a hang past the origin's timeout
    await scriptOrigin(scenario, ['500', 'hang']);
    const failed = await call('POST', GEN, { key: tk.key, env, json: genBody(`${scenario}-b`, { seed: 8 }) });
    expect(failed.status).toBe(502);
    const timedOut = await call('POST', GEN, { key: tk.key, env, json: genBody(`${scenario}-c`, { seed: 9 }) });
    expect(timedOut.status).toBe(504);
    // three identical requests at once, the origin slow: one origin call, two coalesced followers
    await scriptOrigin(scenario, ['slow-400']);
    const callsBefore = (await originCalls(scenario)).length;
    const burst = await Promise.all([0, 1, 2].map(() => call('POST', GEN, { key: tk.key, env, json: genBody(`${scenario}-d`, { seed: 10 }) })));
    for (const r of burst) {
      expect(r.status, r.text()).toBe(200);
      track(r);
    }
    expect((await originCalls(scenario)).length - callsBefore).toBe(1);
    // an idempotent retry
    const idem = { 'idempotency-key': unique('idem') };
    const first = await call('POST', GEN, { key: tk.key, env, json: genBody(`${scenario}-e`), headers: idem });
    const replay = await call('POST', GEN, { key: tk.key, env, json: genBody(`${scenario}-e`), headers: idem });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('imagegate-cost-usd')).toBe('0');
    track(first);
    // n > 1, all made; then n > 1 where one fails
    const many = await call('POST', '/v1/images/generations', { key: tk.key, env, json: { prompt: `${scenario}-f`, n: 3, size: '256x256', seed: 40 } });
    expect(many.status, many.text()).toBe(200);
    track(many);
    await scriptOrigin(scenario, ['png', '500']);
    const partly = await call('POST', '/v1/images/generations', { key: tk.key, env, json: { prompt: `${scenario}-g`, n: 2, size: '256x256', seed: 50 } });
    expect(partly.status).toBe(502);
    // a sibling key hits the first key's cache entry (private to the tenant): free for it too
    const siblingHit = await call('POST', GEN, { key: sibling.key, env, json: seeded });
    expect(siblingHit.headers.get('imagegate-cost-usd')).toBe('0');

    const spent = (await budgetState('key', tk.keyId)).spentNano;
    expect(spent).toBe(headerSum);
    // 256×256 costs 124,519 nano: miss, coalesced leader, idempotent first, 3 of n=3
    expect(spent).toBe(6n * 124_519n);
    const rows = await ledger('key_id', tk.keyId);
    expect(rows.filter((r) => r.cost_nano > 0)).toHaveLength(6);
    expect(rows.filter((r) => r.status !== 'ok').every((r) => r.cost_nano === 0)).toBe(true);
    expect(rows.filter((r) => r.cache === 'hit' || r.cache === 'coalesced').every((r) => r.cost_nano === 0)).toBe(true);
    await expectBooksBalanced([tk.keyId, sibling.keyId], tk.tenantId);
  });
});
