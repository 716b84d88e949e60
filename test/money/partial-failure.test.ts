import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, envWith, loopback, originCalls, scriptOrigin, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState, expectBooksBalanced, ledger } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/**
 * Asks one loopback origin for `fields.n` images in one request; `script` makes its first calls
 * answer in those modes (in whichever order the calls come), then it answers PNGs.
 */
async function requestImages(key: string, label: string, fields: { n: number; size: string; seed: number }, script: string[] = []) {
  const { scenario, env: e } = loopback(label);
  if (script.length > 0) await scriptOrigin(scenario, script);
  const r = await call('POST', '/v1/images/generations', { key, json: { prompt: `images ${scenario}`, ...fields }, env: e });
  return { r, scenario };
}

/** n images in one request: the request succeeds as a whole or costs nothing (docs/money.md). */
describe('a request of several images where one fails', () => {
  it('answers the failure and charges none of the images, not even those the origin made', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '1' } });
    // of the two calls one answers an image and the other a 500
    const { r, scenario } = await requestImages(key, 'n-partial', { n: 2, size: '512x512', seed: 10 }, ['png', '500']);
    expectError(r, 502, 'origin_error');
    expect(await originCalls(scenario)).toHaveLength(2);
    const k = await budgetState('key', keyId);
    expect(k.spentNano).toBe(0n);
    expect(k.reservedNano).toBe(0n);
    const rows = await ledger('key_id', keyId);
    expect(rows.map((row) => [row.cost_nano, row.status]).sort()).toEqual([
      [0, 'origin_error'],
      [0, 'origin_error'],
    ]);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('charges every image when all succeed', async () => {
    const { key, keyId, tenantId } = await createTenantWithKey();
    const { r } = await requestImages(key, 'n-whole', { n: 3, size: '512x512', seed: 20 });
    expect(r.status, r.text()).toBe(200);
    const perImage = 498_074n; // ceil(512 × 512 × 1,900,000 / 1e6)
    expect(r.headers.get('imagegate-cost-usd')).toBe('0.001494222');
    expect((await budgetState('key', keyId)).spentNano).toBe(3n * perImage);
    await expectBooksBalanced([keyId], tenantId);
  });
});

describe('where a generated image is kept', () => {
  async function imageRow(id: string) {
    return env.DB.prepare('SELECT tenant_id, image_key, cache FROM usage_ledger WHERE image_id = ?')
      .bind(id)
      .all<{ tenant_id: string; image_key: string; cache: string }>();
  }

  it('writes a cached image once: its id leads through the ledger to the cache entry, and a hit writes nothing', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const { scenario, env: e } = loopback('image-ref');
    const body = { positive_prompt: `ref ${scenario}`, width: 256, height: 256, seed: 5 };
    const r = await call('POST', '/image/generation', { key, json: body, headers: { accept: 'application/json' }, env: e });
    expect(r.status, r.text()).toBe(200);
    const { id, url, image_base64 } = r.json();
    const { results } = await imageRow(id);
    expect(results).toEqual([{ tenant_id: tenantId, image_key: expect.stringMatching(new RegExp(`^cache/t/${tenantId}/[0-9a-f]{64}$`)), cache: 'miss' }]);
    expect((await env.IMAGES.list({ prefix: `images/${tenantId}/` })).objects).toHaveLength(0);
    const served = await call('GET', new URL(url).pathname, { key });
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(btoa(String.fromCharCode(...served.bytes))).toBe(image_base64);

    const hit = await call('POST', '/image/generation', { key, json: body, headers: { accept: 'application/json' }, env: e });
    expect(hit.json().cache).toBe('hit');
    expect(hit.json().id).not.toBe(id);
    const hitRow = (await imageRow(hit.json().id)).results[0];
    expect(hitRow?.image_key).toBe(results[0]?.image_key);
    expect((await call('GET', new URL(hit.json().url).pathname, { key })).bytes).toEqual(served.bytes);
    expect((await env.IMAGES.list({ prefix: `images/${tenantId}/` })).objects).toHaveLength(0);
  });

  it('copies a no-store image under its tenant, since the cache does not hold it', async () => {
    const { key, tenantId } = await createTenantWithKey();
    const scenario = unique('image-copy');
    const r = await call('POST', '/image/generation', {
      key,
      json: { positive_prompt: `copy ${scenario}`, width: 256, height: 256, seed: 6 },
      headers: { accept: 'application/json', 'cache-control': 'no-store' },
      env: envWith([testOrigin(scenario, 'png')]),
    });
    expect(r.status, r.text()).toBe(200);
    const { id, url } = r.json();
    expect((await imageRow(id)).results[0]?.image_key).toBe(`images/${tenantId}/${id}`);
    expect((await env.IMAGES.head(`images/${tenantId}/${id}`))?.size).toBeGreaterThan(0);
    expect((await env.IMAGES.list({ prefix: `cache/t/${tenantId}/` })).objects).toHaveLength(0);
    expect((await call('GET', new URL(url).pathname, { key })).status).toBe(200);
  });

  it('never serves an image of a request that failed as a whole', async () => {
    const { key, keyId } = await createTenantWithKey();
    const { r } = await requestImages(key, 'n-failed-image', { n: 2, size: '256x256', seed: 30 }, ['png', '500']);
    expect(r.status).toBe(502);
    const rows = await ledger('key_id', keyId);
    expect(rows.map((row) => row.image_id)).toEqual([null, null]);
  });
});
