import { describe, expect, it } from 'vitest';
import { call, DEFAULT_MODEL, envWith, genBody, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { generateThroughOne } from './support';

const SECRET = 'origin-secret-6f1d2c9a77e04b1f';

describe('kind qubrid against a loopback origin', () => {
  for (const mode of ['png', 'b64', 'url'] as const) {
    it(`reads an image answered as ${mode === 'png' ? 'bytes' : mode === 'b64' ? 'JSON data[0].b64_json' : 'JSON data[0].url'}`, async () => {
      const fields = { seed: 77, steps: 31, cfg: 4.5, negative_prompt: 'fog', output_format: 'webp' };
      const { r, scenario, calls } = await generateThroughOne(mode, {}, fields);
      expect(r.headers.get('content-type')).toBe('image/png');
      expect(calls[0]?.path).toBe(`/s/${scenario}/${mode}/image/generation`);
      expect(calls[0]?.body).toEqual({
        model: DEFAULT_MODEL,
        positive_prompt: `test image ${scenario}`,
        negative_prompt: 'fog',
        width: 256,
        height: 256,
        steps: 31,
        cfg: 4.5,
        seed: 77,
        output_format: 'webp',
      });
    });
  }

  it('accepts JPEG and WebP bytes by their magic numbers', async () => {
    const { key } = await createTenantWithKey();
    for (const [mode, type] of [
      ['jpeg', 'image/jpeg'],
      ['webp', 'image/webp'],
    ] as const) {
      const scenario = unique(`qubrid-${mode}`);
      const r = await call('POST', '/image/generation', { key, json: genBody(scenario, { seed: 1 }), env: envWith([testOrigin(scenario, mode)]) });
      expect(r.status, r.text()).toBe(200);
      expect(r.headers.get('content-type')).toBe(type);
    }
  });

  const failures = [
    { mode: '500', status: 502, code: 'origin_error', message: /answered 500/ },
    { mode: '503', status: 502, code: 'origin_error', message: /answered 503/ },
    { mode: 'garbage', status: 502, code: 'origin_error', message: /not an image/ },
    { mode: 'json-garbage', status: 502, code: 'origin_error', message: /not an image/ },
    { mode: 'hang', status: 504, code: 'origin_timeout', message: /within 300 ms/ },
  ] as const;
  for (const f of failures) {
    it(`answers ${f.status} ${f.code} when the origin ${f.mode === 'hang' ? 'hangs past its timeout' : `answers ${f.mode}`}, and charges nothing`, async () => {
      const t = await createTenantWithKey();
      const scenario = unique(`qubrid-${f.mode}`);
      const started = Date.now();
      const r = await call('POST', '/image/generation', { key: t.key, json: genBody(scenario, { seed: 3 }), env: envWith([testOrigin(scenario, f.mode, { timeout_ms: 300 })]) });
      const elapsed = Date.now() - started;
      expect(expectError(r, f.status, f.code)).toMatch(f.message);
      if (f.mode === 'hang') {
        expect(elapsed).toBeGreaterThanOrEqual(250);
        expect(elapsed).toBeLessThan(3_000);
      }
      expect(await originCalls(scenario)).toHaveLength(1);
      await expectNothingCharged(t);
    });
  }

  it('caps the image size (max_image_bytes) with a clear 502, bytes or base64 alike', async () => {
    const t = await createTenantWithKey();
    const scenario = unique('qubrid-big');
    const r = await call('POST', '/image/generation', { key: t.key, json: genBody(scenario), env: envWith([testOrigin(scenario, 'big', { max_image_bytes: 1_000_000 })]) });
    expect(expectError(r, 502, 'origin_error')).toMatch(/over the 1000000-byte limit/);
    const small = unique('qubrid-b64-cap');
    const r2 = await call('POST', '/image/generation', { key: t.key, json: genBody(small), env: envWith([testOrigin(small, 'b64', { max_image_bytes: 64 })]) });
    expect(expectError(r2, 502, 'origin_error')).toMatch(/over the 64-byte limit/);
    await expectNothingCharged(t);
    // the same big image under the default cap (25 MiB) is fine
    const ok = unique('qubrid-big-ok');
    const r3 = await call('POST', '/image/generation', { key: t.key, json: genBody(ok), env: envWith([testOrigin(ok, 'big')]) });
    expect(r3.status, r3.text()).toBe(200);
    expect(r3.bytes.length).toBeGreaterThan(1_200_000);
  });

  it('lets a base64 answer carry an image right at the cap (the JSON around it may be bigger)', async () => {
    const { key } = await createTenantWithKey();
    const tag = unique('qubrid-at-cap');
    const first = unique('qubrid-size');
    const sized = await call('POST', '/image/generation', { key, json: genBody(tag, { seed: 5 }), env: envWith([testOrigin(first, 'b64')]) });
    expect(sized.status, sized.text()).toBe(200);
    const size = sized.bytes.length;
    const atCap = unique('qubrid-cap');
    const r = await call('POST', '/image/generation', {
      key,
      json: genBody(tag, { seed: 5 }),
      headers: { 'cache-control': 'no-cache' },
      env: envWith([testOrigin(atCap, 'b64', { max_image_bytes: size })]),
    });
    expect(r.status, r.text()).toBe(200);
    expect(r.bytes).toEqual(sized.bytes);
    expect(await originCalls(atCap)).toHaveLength(1);
  });

  it('sends X-Request-Id and its own bearer secret, never the tenant key (Authorization or x-api-key)', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('qubrid-headers');
    const env = envWith([testOrigin(scenario, 'png', { api_key_secret: 'TEST_ORIGIN_SECRET' })], { TEST_ORIGIN_SECRET: SECRET });
    const viaBearer = await call('POST', '/image/generation', { key, json: genBody(scenario, { seed: 1 }), env });
    const viaHeader = await call('POST', '/image/generation', {
      headers: { 'x-api-key': key },
      json: genBody(scenario, { seed: 2 }),
      env,
    });
    expect(viaBearer.status, viaBearer.text()).toBe(200);
    expect(viaHeader.status, viaHeader.text()).toBe(200);
    const calls = await originCalls(scenario);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.headers['x-request-id']).toBe(viaBearer.headers.get('x-request-id'));
    expect(calls[1]?.headers['x-request-id']).toBe(viaHeader.headers.get('x-request-id'));
    for (const c of calls) {
      expect(c.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(c.headers['x-api-key']).toBeUndefined();
      expect(JSON.stringify(c)).not.toContain(key);
      expect(JSON.stringify(c)).not.toContain('igk_');
    }
  });

  it('sends no Authorization at all when the origin has no secret; one whose secret is not set is never called (docs/operations.md)', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('qubrid-nosecret');
    await call('POST', '/image/generation', { key, json: genBody(scenario, { seed: 1 }), env: envWith([testOrigin(scenario, 'png')]) });
    const unset = await call('POST', '/image/generation', { key, json: genBody(scenario, { seed: 2 }), env: envWith([testOrigin(scenario, 'png', { api_key_secret: 'UNSET_ORIGIN_SECRET' })]) });
    expect(unset.status).toBe(502);
    const calls = await originCalls(scenario);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers.authorization).toBeUndefined();
  });

  it("returns an origin's 4xx as 400 with its message, trimmed and with its secret blotted out", async () => {
    const t = await createTenantWithKey();
    const plain = unique('qubrid-400');
    const r = await call('POST', '/image/generation', { key: t.key, json: genBody(plain), env: envWith([testOrigin(plain, '400')]) });
    expect(expectError(r, 400, 'invalid_request')).toBe(`origin '${plain}-400' refused the request: prompt rejected by origin policy`);
    const echo = unique('qubrid-echo');
    const env = envWith([testOrigin(echo, '400-echo', { api_key_secret: 'TEST_ORIGIN_SECRET' })], { TEST_ORIGIN_SECRET: SECRET });
    const r2 = await call('POST', '/image/generation', { key: t.key, json: genBody(echo), env });
    const message = expectError(r2, 400, 'invalid_request');
    expect(message).toContain('credential Bearer [redacted] may not ask this');
    expect(r2.text()).not.toContain(SECRET);
    expect(message.length).toBeLessThan(400);
    expect(message.endsWith('…')).toBe(true);
    await expectNothingCharged(t);
  });
});
