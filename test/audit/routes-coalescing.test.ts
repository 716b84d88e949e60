import { describe, expect, it } from 'vitest';
import { leaseOf, privateFlight, seededFromGenBody } from '../cache/support';
import { call, envWith, genBody, testOrigin, unique } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';

/**
 * Audit of docs/cache.md: identical cacheable requests that arrive while the first is still at the
 * origin wait for it (one origin call, one charge). The leader's lease in the Coalescer is what
 * keeps followers waiting: it must last as long as the leader may legitimately be at its origins,
 * or the alarm hands the flight to a follower, which calls the origin (and pays) a second time.
 */
describe('the leader keeps the flight for as long as its origins may take', () => {
  it('with ORIGIN_DEADLINE_MS at 30 minutes and two 15-minute origins, the lease covers the whole chain', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const a = unique('audit-lease-a');
    const b = unique('audit-lease-b');
    const e = envWith([testOrigin(a, 'slow-800', { timeout_ms: 900_000 }), testOrigin(b, 'png', { timeout_ms: 900_000 })], {
      ORIGIN_DEADLINE_MS: '1800000',
    });
    const tag = unique('lease');
    const leader = call('POST', '/image/generation', { key, env: e, json: genBody(tag, { seed: 17 }) });
    await new Promise((r) => setTimeout(r, 300));
    const lease = await leaseOf(await privateFlight(tenantId, seededFromGenBody(tag, 17)));
    expect(lease).not.toBeNull();
    // the chain may legitimately take 30 minutes; a shorter lease lets a follower lead while it runs
    expect(lease!.lease_until - Date.now()).toBeGreaterThan(29 * 60_000);
    expect((await leader).status).toBe(200);
  });
});
