import { describe, expect, it } from 'vitest';
import { appWithClock, bytesEqual, genBody, loopback, originCalls, testOrigin, unique } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';
import { generateImage, only, privateEntries } from './support';

const DAY = 86_400_000;

describe('Cache-Control and unseeded requests', () => {
  it('no-store neither reads nor writes the cache', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('nostore');
    const first = await generateImage(key, genBody(scenario, { seed: 1 }), { env: e, headers: { 'cache-control': 'no-store' } });
    expect(first.status, first.text()).toBe(200);
    expect(first.headers.get('cache-status')).toBe('imagegate; fwd=request');
    expect(first.headers.get('imagegate-cost-usd')).not.toBe('0');
    expect(await privateEntries(tenantId)).toHaveLength(0);

    // nothing was stored, so the same request without the directive is a miss
    const plain = await generateImage(key, genBody(scenario, { seed: 1 }), { env: e });
    expect(plain.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    // and an entry that exists is not read either
    const again = await generateImage(key, genBody(scenario, { seed: 1 }), {
      env: e,
      headers: { 'cache-control': 'no-store', accept: 'application/json' },
    });
    expect(again.headers.get('cache-status')).toBe('imagegate; fwd=request');
    expect(again.json().cache).toBe('miss');
    expect(await originCalls(scenario)).toHaveLength(3);
  });

  it('no-cache calls the origin and refreshes the entry (its age starts again)', async () => {
    let clock = Date.UTC(2026, 0, 1);
    const app = appWithClock(() => clock);
    const { key, tenantId } = await createTenantWithKey();
    const scenario = unique('nocache');
    const first = await generateImage(key, genBody(scenario, { seed: 2 }), { env: only(testOrigin(scenario, 'png')), app });
    expect(first.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');

    clock += 29 * DAY;
    const refreshing = only(testOrigin(scenario, 'b64')); // another origin, so the entry says who made it
    const fresh = await generateImage(key, genBody(scenario, { seed: 2 }), { env: refreshing, app, headers: { 'cache-control': 'no-cache' } });
    expect(fresh.status, fresh.text()).toBe(200);
    expect(fresh.headers.get('cache-status')).toBe('imagegate; fwd=request; stored');
    expect(fresh.headers.get('imagegate-origin')).toBe(`${scenario}-b64`);
    expect(fresh.headers.get('imagegate-cost-usd')).not.toBe('0');
    expect(await originCalls(scenario)).toHaveLength(2);
    const entries = await privateEntries(tenantId);
    expect(entries).toHaveLength(1);
    expect(entries[0]?.customMetadata?.origin).toBe(`${scenario}-b64`);
    expect(entries[0]?.customMetadata?.created_ms).toBe(String(clock));

    // 31 days after the first store and 2 after the refresh: a hit only because no-cache refreshed it
    clock += 2 * DAY;
    const hit = await generateImage(key, genBody(scenario, { seed: 2 }), { env: refreshing, app });
    expect(hit.headers.get('cache-status')).toBe('imagegate; hit');
    expect(bytesEqual(hit.bytes, fresh.bytes)).toBe(true);
    expect(await originCalls(scenario)).toHaveLength(2);
  });

  it('stores an unseeded request under its drawn seed, so asking again with Imagegate-Seed is a hit', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('bypass');
    const first = await generateImage(key, genBody(scenario), { env: e });
    expect(first.status, first.text()).toBe(200);
    expect(first.headers.get('cache-status')).toBe('imagegate; fwd=bypass; stored');
    const seed = Number(first.headers.get('imagegate-seed'));
    expect(seed).toBeGreaterThan(0);
    expect(await privateEntries(tenantId)).toHaveLength(1);

    const again = await generateImage(key, genBody(scenario, { seed }), { env: e });
    expect(again.headers.get('cache-status')).toBe('imagegate; hit');
    expect(again.headers.get('imagegate-cost-usd')).toBe('0');
    expect(bytesEqual(again.bytes, first.bytes)).toBe(true);

    // an unseeded request is never looked up: a second one goes to the origin again
    const unseeded = await generateImage(key, genBody(scenario), { env: e, headers: { accept: 'application/json' } });
    expect(unseeded.headers.get('cache-status')).toBe('imagegate; fwd=bypass; stored');
    expect(unseeded.json().cache).toBe('bypass');
    expect(await originCalls(scenario)).toHaveLength(2);
  });

  it('calls an unseeded no-cache or no-store request a miss, as docs/generation.md says of both', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('unseeded-directives');
    const json = { accept: 'application/json' };
    const noStore = await generateImage(key, genBody(scenario), { env: e, headers: { ...json, 'cache-control': 'no-store' } });
    expect(noStore.headers.get('cache-status')).toBe('imagegate; fwd=request');
    expect(noStore.json().cache).toBe('miss');
    expect(await privateEntries(tenantId)).toHaveLength(0);
    const noCache = await generateImage(key, genBody(scenario), { env: e, headers: { ...json, 'cache-control': 'no-cache' } });
    expect(noCache.headers.get('cache-status')).toBe('imagegate; fwd=request; stored');
    expect(noCache.json().cache).toBe('miss');
    expect(await privateEntries(tenantId)).toHaveLength(1);
  });
});
