import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { genBody, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { generateImage, only, privateFlight, seededFromGenBody, waitersQueued } from './support';

/** A follower whose leader gave up goes to the origin itself: with a slot, and on the books. */
describe('a follower that takes the lead', () => {
  it('takes an in-flight slot first, so max_concurrent holds (docs/rate-limits.md)', async () => {
    const { key, tenantId } = await createTenantWithKey({ key: { max_concurrent: 1 } });
    const scenario = unique('takeover-slot');
    const f = await privateFlight(tenantId, seededFromGenBody(scenario, 61));
    expect(await f.stub.join(f.flightKey, 'ghost', 60_000)).toMatchObject({ role: 'leader' });

    // a follower of the ghost leader: it holds no slot while it waits
    const follower = generateImage(key, genBody(scenario, { seed: 61 }), { env: only(testOrigin(scenario, 'png')) });
    await waitersQueued(f, 1);
    // meanwhile another request of the key takes the one slot, at a slow origin
    const other = unique('takeover-other');
    const busy = generateImage(key, genBody(other, { seed: 62 }), { env: only(testOrigin(other, 'slow-1500')) });
    for (let i = 0; i < 50 && (await originCalls(other)).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await originCalls(other)).toHaveLength(1);

    // the ghost gives up: the follower must lead, but the slot is taken
    await f.stub.finish(f.flightKey, 'ghost', { kind: 'handover' });
    const refused = await follower;
    expectError(refused, 429, 'concurrency_limited');
    expect(await originCalls(scenario)).toHaveLength(0);
    expect((await busy).status).toBe(200);
    expect((await budgetState('tenant', tenantId)).reservedNano).toBe(0n);
  });

  it('a follower that gives up waiting leaves a failed ledger row, uncharged', { timeout: 60_000 }, async () => {
    const { key, keyId, tenantId } = await createTenantWithKey();
    const scenario = unique('follower-timeout');
    const f = await privateFlight(tenantId, seededFromGenBody(scenario, 71));
    // a leader whose lease is short and that never reports: the follower's bounded wait runs out
    expect(await f.stub.join(f.flightKey, 'ghost', 60_000)).toMatchObject({ role: 'leader' });
    const follower = generateImage(key, genBody(scenario, { seed: 71 }), {
      env: only(testOrigin(scenario, 'png', { timeout_ms: 100 })),
    });
    // its wait is bounded by the lease it would itself get (0.1 s of origin + margins, ~25 s), far
    // short of the ghost's 60 s lease, so the wait ends in a timeout rather than a takeover
    const answer = await follower;
    expectError(answer, 504, 'origin_timeout');
    const rows = await env.DB.prepare('SELECT status, cost_nano, cache FROM usage_ledger WHERE key_id = ?').bind(keyId).all();
    expect(rows.results).toEqual([{ status: 'origin_timeout', cost_nano: 0, cache: 'coalesced' }]);
    expect(await originCalls(scenario)).toHaveLength(0);
  });
});
