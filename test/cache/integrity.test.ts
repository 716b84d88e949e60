import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../src/domain/tenants';
import { cacheEntryFor, lookupCached, storeCached } from '../../src/storage/image-cache';
import { appWithClock, genBody, loopback, originCalls, scriptOrigin, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { createTenantWithKey } from '../helpers/tenants';
import { wholeJpeg } from '../images/fixtures';
import { generateImage, only, privateEntries, seededFromGenBody } from './support';

const DAY = 86_400_000;

function tenant(id: string, ttlDays = 30): TenantRecord {
  return {
    id,
    name: id,
    cacheScope: 'private',
    cacheTtlDays: ttlDays,
    allowedModels: null,
    disabled: false,
    budgetNano: null,
    budgetPeriod: 'none',
    rateLimitRpm: null,
    maxConcurrent: null,
    createdAt: '',
    updatedAt: '',
  };
}

describe('what the cache keeps', () => {
  it('does not cache an origin that answered garbage; the healthy answer after it is stored', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const scenario = unique('garbage');
    await scriptOrigin(scenario, ['garbage']);
    const e = only(testOrigin(scenario, 'png'));
    const bad = await generateImage(key, genBody(scenario, { seed: 6 }), { env: e });
    expectError(bad, 502, 'origin_error');
    expect(await privateEntries(tenantId)).toHaveLength(0);

    const good = await generateImage(key, genBody(scenario, { seed: 6 }), { env: e });
    expect(good.status, good.text()).toBe(200);
    expect(good.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    const hit = await generateImage(key, genBody(scenario, { seed: 6 }), { env: e });
    expect(hit.headers.get('cache-status')).toBe('imagegate; hit');
    expect(await originCalls(scenario)).toHaveLength(2);
  });

  it('refuses to store bytes that are not the image they claim to be', async () => {
    const t = tenant(unique('ten'));
    const request = seededFromGenBody(unique('refuse'), 1);
    const text = new TextEncoder().encode('<html>not an image</html>');
    expect(await storeCached(env.IMAGES, t, request, { bytes: text, contentType: 'image/png', origin: 'x' }, Date.now())).toBeNull();
    const jpeg = wholeJpeg(256, 256);
    expect(await storeCached(env.IMAGES, t, request, { bytes: jpeg, contentType: 'image/png', origin: 'x' }, Date.now())).toBeNull();
    expect(await privateEntries(t.id)).toHaveLength(0);
    expect(await storeCached(env.IMAGES, t, request, { bytes: jpeg, contentType: 'image/jpeg', origin: 'x' }, Date.now())).toBe(
      (await cacheEntryFor(t, request)).r2Key,
    );
    expect(await lookupCached(env.IMAGES, t, request, Date.now())).toMatchObject({ contentType: 'image/jpeg', origin: 'x' });
  });

  it('never serves an entry that is no longer a whole image', async () => {
    const t = tenant(unique('ten'));
    const request = seededFromGenBody(unique('cut'), 1);
    const jpeg = wholeJpeg(256, 256);
    await storeCached(env.IMAGES, t, request, { bytes: jpeg, contentType: 'image/jpeg', origin: 'x' }, Date.now());
    const [entry] = await privateEntries(t.id);
    if (!entry) throw new Error('no entry');
    // the same metadata over a body cut short
    await env.IMAGES.put(entry.key, jpeg.subarray(0, 20), { httpMetadata: { contentType: 'image/jpeg' }, customMetadata: entry.customMetadata });
    expect(await lookupCached(env.IMAGES, t, request, Date.now())).toBeNull();
  });

  it('never serves an entry whose bytes passed a magic-byte check but are not whole (same length, same metadata)', async () => {
    const t = tenant(unique('ten'));
    const request = seededFromGenBody(unique('sniff'), 1);
    const jpeg = wholeJpeg(256, 256);
    await storeCached(env.IMAGES, t, request, { bytes: jpeg, contentType: 'image/jpeg', origin: 'x' }, Date.now());
    expect(await lookupCached(env.IMAGES, t, request, Date.now())).not.toBeNull();
    const [entry] = await privateEntries(t.id);
    if (!entry) throw new Error('no entry');
    // FF D8 FF and then no frame header: what a sniff of the first bytes let through
    const hollow = new Uint8Array(jpeg.length).fill(0x41);
    hollow.set([0xff, 0xd8, 0xff, 0x00]);
    await env.IMAGES.put(entry.key, hollow, { httpMetadata: { contentType: 'image/jpeg' }, customMetadata: entry.customMetadata });
    expect(await lookupCached(env.IMAGES, t, request, Date.now())).toBeNull();
  });

  it("treats an entry older than the tenant's TTL as a miss", async () => {
    let clock = Date.UTC(2026, 2, 1);
    const app = appWithClock(() => clock);
    const { key } = await createTenantWithKey();
    const { scenario, env: e } = loopback('ttl');
    await generateImage(key, genBody(scenario, { seed: 12 }), { env: e, app });

    clock += 30 * DAY - 1;
    const young = await generateImage(key, genBody(scenario, { seed: 12 }), { env: e, app });
    expect(young.headers.get('cache-status')).toBe('imagegate; hit');

    clock += 1; // exactly the default 30 days
    const old = await generateImage(key, genBody(scenario, { seed: 12 }), { env: e, app });
    expect(old.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(old.headers.get('imagegate-cost-usd')).not.toBe('0');
    expect(await originCalls(scenario)).toHaveLength(2);

    // the miss stored a fresh entry
    const fresh = await generateImage(key, genBody(scenario, { seed: 12 }), { env: e, app });
    expect(fresh.headers.get('cache-status')).toBe('imagegate; hit');
  });

  it("uses the tenant's own cache_ttl_days", async () => {
    let clock = Date.UTC(2026, 4, 1);
    const app = appWithClock(() => clock);
    const { key } = await createTenantWithKey({ tenant: { cache_ttl_days: 1 } });
    const { scenario, env: e } = loopback('ttl1');
    await generateImage(key, genBody(scenario, { seed: 13 }), { env: e, app });
    clock += DAY;
    const expired = await generateImage(key, genBody(scenario, { seed: 13 }), { env: e, app });
    expect(expired.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(await originCalls(scenario)).toHaveLength(2);
  });
});
