import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, envWith, newTenantKey, originCalls, scriptOrigin, testOrigin, unique } from '../helpers/api';
import { expectBooksBalanced, keyRow, ledger } from './support';

/** n images in one request: the request succeeds as a whole or costs nothing (CONTRACT §4). */
describe('a request of several images where one fails', () => {
  it('answers the failure and charges none of the images, not even those the origin made', async () => {
    const { key, keyId, tenantId } = await newTenantKey({}, { budget_usd: '1' });
    const scenario = unique('n-partial');
    // one origin; of the two calls one answers an image and the other a 500, in whichever order they come
    await scriptOrigin(scenario, ['png', '500']);
    const r = await call('POST', '/v1/images/generations', {
      key,
      json: { prompt: `partial ${scenario}`, n: 2, size: '512x512', seed: 10 },
      env: envWith([testOrigin(scenario, 'png')]),
    });
    expect(r.status, r.text()).toBe(502);
    expect(r.json().error.code).toBe('origin_error');
    expect(await originCalls(scenario)).toHaveLength(2);
    const k = await keyRow(keyId);
    expect(k.spent_nano).toBe(0);
    expect(k.reserved_nano).toBe(0);
    const rows = await ledger('key_id', keyId);
    expect(rows.map((row) => [row.cost_nano, row.status]).sort()).toEqual([
      [0, 'origin_error'],
      [0, 'origin_error'],
    ]);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('charges every image when all succeed', async () => {
    const { key, keyId, tenantId } = await newTenantKey();
    const scenario = unique('n-whole');
    const r = await call('POST', '/v1/images/generations', {
      key,
      json: { prompt: `whole ${scenario}`, n: 3, size: '512x512', seed: 20 },
      env: envWith([testOrigin(scenario, 'png')]),
    });
    expect(r.status, r.text()).toBe(200);
    const perImage = 498_074n; // ceil(512 × 512 × 1,900,000 / 1e6)
    expect(r.headers.get('imagegate-cost-usd')).toBe('0.001494222');
    expect(BigInt((await keyRow(keyId)).spent_nano)).toBe(3n * perImage);
    await expectBooksBalanced([keyId], tenantId);
  });
});

describe('where a generated image is kept', () => {
  it('keeps a cached image once: the tenant\'s image is a reference to the cache entry', async () => {
    const { key, tenantId } = await newTenantKey();
    const scenario = unique('image-ref');
    const r = await call('POST', '/image/generation', {
      key,
      json: { positive_prompt: `ref ${scenario}`, width: 256, height: 256, seed: 5 },
      headers: { accept: 'application/json' },
      env: envWith([testOrigin(scenario, 'png')]),
    });
    expect(r.status, r.text()).toBe(200);
    const { id, url, image_base64 } = r.json();
    const object = await env.IMAGES.head(`images/${tenantId}/${id}`);
    expect(object?.size).toBe(0);
    expect(object?.customMetadata?.ref).toMatch(new RegExp(`^cache/t/${tenantId}/[0-9a-f]{64}$`));
    const served = await call('GET', new URL(url).pathname, { key });
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(btoa(String.fromCharCode(...served.bytes))).toBe(image_base64);
  });

  it('copies a no-store image in full, since the cache does not hold it', async () => {
    const { key, tenantId } = await newTenantKey();
    const scenario = unique('image-copy');
    const r = await call('POST', '/image/generation', {
      key,
      json: { positive_prompt: `copy ${scenario}`, width: 256, height: 256, seed: 6 },
      headers: { accept: 'application/json', 'cache-control': 'no-store' },
      env: envWith([testOrigin(scenario, 'png')]),
    });
    expect(r.status, r.text()).toBe(200);
    const { id, url } = r.json();
    const object = await env.IMAGES.head(`images/${tenantId}/${id}`);
    expect(object?.size).toBeGreaterThan(0);
    expect(object?.customMetadata?.ref).toBeUndefined();
    expect((await env.IMAGES.list({ prefix: `cache/t/${tenantId}/` })).objects).toHaveLength(0);
    expect((await call('GET', new URL(url).pathname, { key })).status).toBe(200);
  });
});
