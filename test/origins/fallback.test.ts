import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, envWith, originCalls, scriptOrigin, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { generateLogged } from './support';

/** Two loopback origins, each its own scenario so their calls are counted apart. */
function pair(firstMode: string, secondMode: string, first: Record<string, unknown> = {}, second: Record<string, unknown> = {}) {
  const a = unique('first');
  const b = unique('second');
  const origins = [testOrigin(a, firstMode, first), testOrigin(b, secondMode, second)];
  return { a, b, origins, names: origins.map((o) => o.name as string) };
}

describe('fallback between origins', () => {
  for (const [mode, outcome, status] of [
    ['500', 'server_error', 500],
    ['garbage', 'not_image', undefined],
    ['json-garbage', 'not_image', undefined],
  ] as const) {
    it(`first answers ${mode} → the second answers, and the log line records both attempts`, async () => {
      const t = await createTenantWithKey();
      const p = pair(mode, 'png');
      const { r, attempts } = await generateLogged(t, p.a, { seed: 11 }, { env: envWith(p.origins) });
      expect(r.status, r.text()).toBe(200);
      expect(r.headers.get('imagegate-origin')).toBe(p.names[1]);
      expect(await originCalls(p.a)).toHaveLength(1);
      expect(await originCalls(p.b)).toHaveLength(1);
      expect(attempts.map(({ latencyMs: _, ...a }) => a)).toEqual([
        { origin: p.names[0], outcome, ...(status ? { status } : {}) },
        { origin: p.names[1], outcome: 'ok' },
      ]);
      for (const a of attempts) expect(typeof a.latencyMs).toBe('number');
    });
  }

  it('first hangs past its timeout → the second answers within timeout + margin', async () => {
    const t = await createTenantWithKey();
    const p = pair('hang', 'png', { timeout_ms: 300 });
    const started = Date.now();
    const { r, attempts } = await generateLogged(t, p.a, { seed: 12 }, { env: envWith(p.origins) });
    const elapsed = Date.now() - started;
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('imagegate-origin')).toBe(p.names[1]);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(300 + 1_500);
    expect(attempts.map((a) => a.outcome)).toEqual(['timeout', 'ok']);
  });

  it('first answers an image over its size cap → the second answers', async () => {
    const t = await createTenantWithKey();
    const p = pair('big', 'png', { max_image_bytes: 500_000 });
    const { r, attempts } = await generateLogged(t, p.a, { seed: 13 }, { env: envWith(p.origins) });
    expect(r.status, r.text()).toBe(200);
    expect(attempts.map((a) => a.outcome)).toEqual(['too_large', 'ok']);
  });

  for (const [mode, how] of [
    ['big-chunked', 'with no content-length'],
    ['big-gzip', 'gzipped under a small content-length'],
  ] as const) {
    it(`first answers an image over its size cap ${how} → the second answers`, async () => {
      const t = await createTenantWithKey();
      const p = pair(mode, 'png', { max_image_bytes: 500_000 });
      const { r, attempts } = await generateLogged(t, p.a, { seed: 13 }, { env: envWith(p.origins) });
      expect(r.status, r.text()).toBe(200);
      expect(attempts.map((a) => a.outcome)).toEqual(['too_large', 'ok']);
    });
  }

  it('an image with no content-length is read whole', async () => {
    const t = await createTenantWithKey();
    const p = pair('png-chunked', 'png');
    const { r, attempts } = await generateLogged(t, p.a, { seed: 16 }, { env: envWith(p.origins) });
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('imagegate-origin')).toBe(p.names[0]);
    expect(attempts.map((a) => a.outcome)).toEqual(['ok']);
  });

  it('first answers 400 → 400 invalid_request with its message, and the second is never called', async () => {
    const t = await createTenantWithKey();
    const p = pair('400', 'png');
    const { r, attempts } = await generateLogged(t, p.a, { seed: 14 }, { env: envWith(p.origins) });
    expect(expectError(r, 400, 'invalid_request')).toContain('prompt rejected by origin policy');
    expect(await originCalls(p.a)).toHaveLength(1);
    expect(await originCalls(p.b)).toHaveLength(0);
    expect(attempts).toEqual([{ origin: p.names[0], outcome: 'client_error', status: 400, latencyMs: expect.any(Number) }]);
    await expectNothingCharged(t);
  });

  it('every origin failing → 502 origin_error, nothing charged', async () => {
    const t = await createTenantWithKey();
    const p = pair('500', '503');
    const { r } = await generateLogged(t, p.a, { seed: 15 }, { env: envWith(p.origins) });
    expect(expectError(r, 502, 'origin_error')).toMatch(/^every origin failed; last: .*answered 503/);
    expect(await originCalls(p.b)).toHaveLength(1);
    await expectNothingCharged(t);
  });

  it('every origin failing, the last by timeout → 504 origin_timeout; a timeout before a 500 → 502', async () => {
    const t = await createTenantWithKey();
    const last = pair('500', 'hang', {}, { timeout_ms: 300 });
    const r1 = (await generateLogged(t, last.a, { seed: 16 }, { env: envWith(last.origins) })).r;
    expectError(r1, 504, 'origin_timeout');
    const first = pair('hang', '500', { timeout_ms: 300 });
    const r2 = (await generateLogged(t, first.a, { seed: 17 }, { env: envWith(first.origins) })).r;
    expectError(r2, 502, 'origin_error');
    await expectNothingCharged(t);
  });

  it('stops the chain at the overall deadline (ORIGIN_DEADLINE_MS) with 504, however long each origin may take', async () => {
    const t = await createTenantWithKey();
    const p = pair('hang', 'png', { timeout_ms: 20_000, breaker_failures: 1 });
    const env = envWith(p.origins, { ORIGIN_DEADLINE_MS: '400' });
    const started = Date.now();
    const { r, attempts } = await generateLogged(t, p.a, { seed: 18 }, { env });
    const elapsed = Date.now() - started;
    expect(expectError(r, 504, 'origin_timeout')).toMatch(/400 ms deadline for all origins/);
    expect(elapsed).toBeLessThan(2_500);
    expect(await originCalls(p.b)).toHaveLength(0);
    expect(attempts.map((a) => a.outcome)).toEqual(['timeout']);
    await expectNothingCharged(t);
    // the origin was cut short by the chain's deadline, not by its own timeout: not a failure of it
    await scriptOrigin(p.a, ['png']);
    const again = await generateLogged(t, p.a, { seed: 19 }, { env });
    expect(again.r.headers.get('imagegate-origin')).toBe(p.names[0]);
  });
});

describe('routing by model', () => {
  it('tries only origins whose models cover the request ("*" = any), in order', async () => {
    const t = await createTenantWithKey();
    const other = unique('other-model');
    const exact = unique('exact-model');
    const any = unique('any-model');
    const origins = [
      testOrigin(other, 'png', { models: ['acme/other-model'] }),
      testOrigin(exact, 'png', { models: ['acme/x', DEFAULT_MODEL] }),
      testOrigin(any, 'png', { models: ['*'] }),
    ];
    const { r } = await generateLogged(t, exact, { seed: 19 }, { env: envWith(origins) });
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('imagegate-origin')).toBe(origins[1]?.name);
    expect(await originCalls(other)).toHaveLength(0);
    expect(await originCalls(any)).toHaveLength(0);
  });

  it('no origin serving the model → 502 naming the model, nothing called or charged', async () => {
    const t = await createTenantWithKey();
    const other = unique('only-other');
    const { r } = await generateLogged(t, other, { seed: 20 }, { env: envWith([testOrigin(other, 'png', { models: ['acme/other-model'] })]) });
    expect(expectError(r, 502, 'origin_error')).toContain(`no origin serves model '${DEFAULT_MODEL}'`);
    expect(await originCalls(other)).toHaveLength(0);
    await expectNothingCharged(t);
  });
});

describe('an invalid ORIGINS', () => {
  for (const [label, value] of [
    ['not JSON', '[{"name": "broken", sk-live-SECRET-1234'],
    ['a secret pasted where its name belongs', JSON.stringify([{ name: 'q', kind: 'qubrid', url: 'https://q.example', api_key_secret: 'sk-live-SECRET-1234' }])],
    ['an unknown kind', JSON.stringify([{ name: 'q', kind: 'comfy', url: 'https://q.example', token: 'sk-live-SECRET-1234' }])],
    ['an empty list', '[]'],
    ['an api_key_secret naming a variable that is not set', JSON.stringify([{ name: 'q', kind: 'qubrid', url: 'https://q.example', api_key_secret: 'IMAGEGATE_UNSET_SECRET' }])],
  ] as const) {
    it(`(${label}) → 502 origin_error without detail or secret; the detail goes to the log only; nothing charged`, async () => {
      const t = await createTenantWithKey();
      const { r, errors } = await generateLogged(t, unique('bad-origins'), { seed: 21 }, { env: envWith([], { ORIGINS: value }) });
      expect(expectError(r, 502, 'origin_error')).toBe("the gateway's origin configuration is invalid; GET /healthz lists the problems");
      expect(r.text()).not.toContain('sk-live');
      expect(errors.join('\n')).toMatch(/ORIGINS/);
      expect(errors.join('\n')).not.toContain('sk-live');
      await expectNothingCharged(t);
    });
  }
});
