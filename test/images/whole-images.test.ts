import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { inspectImage } from '../../src/domain/image-verify';
import { call, envWith, genBody, loopback, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged, IMAGE_NANO, BIG, budgetState } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/**
 * Only whole images (docs/origins.md): an origin's answer that is not a structurally complete
 * PNG, JPEG or WebP of exactly the requested size is that origin's failure. Through the gateway,
 * against the loopback origin's broken modes: never served, never charged, never cached.
 */

const generate = (key: string, json: unknown, e = env) => call('POST', '/image/generation', { key, json, env: e });

/** The tenant's R2 objects: cache entries and no-store copies. */
async function storedObjects(tenantId: string): Promise<string[]> {
  const listed = await Promise.all([`cache/t/${tenantId}/`, `images/${tenantId}/`].map((prefix) => env.IMAGES.list({ prefix })));
  return listed.flatMap((l) => l.objects.map((o) => o.key));
}

const BROKEN: [mode: string, reason: RegExp][] = [
  ['jpeg-six', /invalid marker/],
  ['png-garbage', /PNG/],
  ['png-bad-crc', /wrong CRC/],
  ['png-truncated', /truncated before IEND/],
  ['png-wrong-size', /image is 272x256 pixels, 256x256 were requested/],
];

describe('an origin answering an image that is not whole', () => {
  for (const [mode, reason] of BROKEN) {
    it(`${mode}: 502 naming the reason, nothing charged, nothing cached, asked again next time`, async () => {
      const t = await createTenantWithKey();
      const { scenario, env: e } = loopback(`broken-${mode}`, mode);
      const body = genBody(scenario, { seed: 77 });
      const message = expectError(await generate(t.key, body, e), 502, 'origin_error');
      expect(message).toMatch(/answered an unusable image/);
      expect(message).toMatch(reason);

      expectError(await generate(t.key, body, e), 502, 'origin_error');
      expect(await originCalls(scenario)).toHaveLength(2); // the first answer was not cached
      await expectNothingCharged(t);
      expect(await storedObjects(t.tenantId)).toEqual([]);
    });
  }

  it('is that origin failure: the next origin answers, and only its image is charged', async () => {
    const t = await createTenantWithKey();
    const [a, b] = [unique('broken-first'), unique('good-second')];
    const origins = [testOrigin(a, 'png-bad-crc'), testOrigin(b, 'png')];
    const r = await generate(t.key, genBody(a, { seed: 5, ...BIG }), envWith(origins));
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('imagegate-origin')).toBe(origins[1]?.name);
    expect(inspectImage(r.bytes)).toEqual({ ok: true, type: 'image/png', width: 1024, height: 1024 });
    expect((await budgetState('key', t.keyId)).spentNano).toBe(IMAGE_NANO);
    expect(await originCalls(a)).toHaveLength(1);
    expect(await originCalls(b)).toHaveLength(1);
  });

  it("counts for the origin's breaker: after breaker_failures of them it is passed over", async () => {
    const t = await createTenantWithKey();
    const [a, b] = [unique('breaker-broken'), unique('breaker-good')];
    const origins = [testOrigin(a, 'jpeg-six', { breaker_failures: 2, breaker_cooldown_ms: 60_000 }), testOrigin(b, 'png')];
    for (let i = 0; i < 4; i++) {
      const r = await generate(t.key, genBody(a, { seed: 100 + i }), envWith(origins));
      expect(r.status, r.text()).toBe(200);
    }
    expect(await originCalls(a)).toHaveLength(2);
    expect(await originCalls(b)).toHaveLength(4);
  });

  it('a Cache-Control: no-store request keeps no copy of it either', async () => {
    const t = await createTenantWithKey();
    const { env: e, scenario } = loopback('broken-no-store', 'png-truncated');
    const r = await call('POST', '/image/generation', { key: t.key, json: genBody(scenario, { seed: 3 }), env: e, headers: { 'cache-control': 'no-store' } });
    expectError(r, 502, 'origin_error');
    await expectNothingCharged(t);
    expect(await storedObjects(t.tenantId)).toEqual([]);
  });

  it('the OpenAI route refuses it the same way', async () => {
    const t = await createTenantWithKey();
    const { scenario, env: e } = loopback('broken-openai', 'png-wrong-size');
    const r = await call('POST', '/v1/images/generations', { key: t.key, json: { prompt: `p ${scenario}`, size: '512x512', seed: 9 }, env: e });
    expect(expectError(r, 502, 'origin_error')).toMatch(/528x512 pixels, 512x512 were requested/);
    await expectNothingCharged(t);
  });
});

describe('whole images of every format', () => {
  for (const [mode, type] of [
    ['png', 'image/png'],
    ['jpeg', 'image/jpeg'],
    ['webp', 'image/webp'],
  ] as const) {
    it(`${mode} of the requested size is served, charged and cached with its type`, async () => {
      const t = await createTenantWithKey();
      const { scenario, env: e } = loopback(`whole-${mode}`, mode);
      const body = genBody(scenario, { seed: 8, width: 512, height: 768, output_format: mode });
      const r = await generate(t.key, body, e);
      expect(r.status, r.text()).toBe(200);
      expect(r.headers.get('content-type')).toBe(type);
      expect(inspectImage(r.bytes)).toEqual({ ok: true, type, width: 512, height: 768 });
      expect((await budgetState('key', t.keyId)).spentNano).toBeGreaterThan(0n);
      const hit = await generate(t.key, body, e);
      expect(hit.headers.get('cache-status')).toBe('imagegate; hit');
      expect(hit.bytes).toEqual(r.bytes);
      expect(await originCalls(scenario)).toHaveLength(1);
    });
  }
});

describe('"verify_dimensions": false', () => {
  it('accepts a whole image of another size from a server that resizes', async () => {
    const t = await createTenantWithKey();
    const { scenario, env: e } = loopback('resizing', 'png-wrong-size', { verify_dimensions: false });
    const r = await generate(t.key, genBody(scenario, { seed: 4 }), e);
    expect(r.status, r.text()).toBe(200);
    expect(inspectImage(r.bytes)).toMatchObject({ ok: true, width: 272, height: 256 });
    expect((await budgetState('key', t.keyId)).spentNano).toBeGreaterThan(0n);
  });

  it('still refuses an image that is not whole', async () => {
    const t = await createTenantWithKey();
    const { scenario, env: e } = loopback('resizing-broken', 'png-bad-crc', { verify_dimensions: false });
    expect(expectError(await generate(t.key, genBody(scenario, { seed: 4 }), e), 502, 'origin_error')).toMatch(/wrong CRC/);
    await expectNothingCharged(t);
  });
});
