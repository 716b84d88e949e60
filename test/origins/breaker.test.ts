import { describe, expect, it } from 'vitest';
import { checkBreaker, recordFailure, recordNeutral, recordSuccess, breakerState } from '../../src/origins/breaker';
import { parseOrigins, type OriginConfig } from '../../src/origins/config';
import { clockedApp, envWith, originCalls, scriptOrigin, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { generateLogged } from './support';

function origin(extra: Record<string, unknown> = {}): OriginConfig {
  const parsed = parseOrigins(JSON.stringify([{ name: unique('unit'), kind: 'qubrid', url: 'http://unit.test/x', breaker_failures: 3, breaker_cooldown_ms: 1_000, timeout_ms: 500, ...extra }]));
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.origins[0] as OriginConfig;
}

describe('breaker (unit, injected clock)', () => {
  it('opens after N consecutive failures, and a success in between starts the count again', () => {
    const o = origin();
    recordFailure(o, 0);
    recordFailure(o, 0);
    recordSuccess(o);
    recordFailure(o, 0);
    recordFailure(o, 0);
    expect(checkBreaker(o, 0)).toEqual({ pass: true, probe: false });
    recordFailure(o, 10);
    expect(breakerState(o, 10)).toBe('open');
    expect(checkBreaker(o, 1_009)).toEqual({ pass: false, retryAt: 1_010 });
  });

  it('lets one probe through after the cool-down; its success closes the breaker', () => {
    const o = origin();
    for (let i = 0; i < 3; i++) recordFailure(o, 0);
    expect(checkBreaker(o, 1_000)).toEqual({ pass: true, probe: true });
    expect(checkBreaker(o, 1_001)).toEqual({ pass: false, retryAt: 1_500 });
    recordSuccess(o);
    expect(breakerState(o, 1_001)).toBe('closed');
    expect(checkBreaker(o, 1_001)).toEqual({ pass: true, probe: false });
  });

  it('a failed probe opens it again for a full cool-down', () => {
    const o = origin();
    for (let i = 0; i < 3; i++) recordFailure(o, 0);
    expect(checkBreaker(o, 2_000).pass).toBe(true);
    recordFailure(o, 2_000);
    expect(checkBreaker(o, 2_999)).toEqual({ pass: false, retryAt: 3_000 });
    expect(checkBreaker(o, 3_000)).toEqual({ pass: true, probe: true });
  });

  it('a probe whose request never reported back does not block the origin past its timeout', () => {
    const o = origin();
    for (let i = 0; i < 3; i++) recordFailure(o, 0);
    expect(checkBreaker(o, 1_000).pass).toBe(true);
    expect(checkBreaker(o, 1_499).pass).toBe(false);
    expect(checkBreaker(o, 1_500)).toEqual({ pass: true, probe: true });
  });

  it("an origin's 4xx is not a failure: it frees the probe and leaves the count alone", () => {
    const o = origin();
    for (let i = 0; i < 3; i++) recordFailure(o, 0);
    expect(checkBreaker(o, 1_000).pass).toBe(true);
    recordNeutral(o);
    expect(breakerState(o, 1_000)).toBe('half-open');
    expect(checkBreaker(o, 1_000)).toEqual({ pass: true, probe: true });
  });

  it('keeps origins apart by name and URL', () => {
    const a = origin();
    const b = { ...a, url: 'http://unit.test/other' };
    for (let i = 0; i < 3; i++) recordFailure(a, 0);
    expect(breakerState(a, 0)).toBe('open');
    expect(breakerState(b, 0)).toBe('closed');
  });
});

type OriginSpec = [label: string, mode: string, settings?: Record<string, unknown>];

/** A tenant and an app on a hand-moved clock, before two fresh loopback origins tried in this order. */
async function twoOrigins(start: number, first: OriginSpec, second: OriginSpec) {
  const { clock, app } = clockedApp(start);
  const t = await createTenantWithKey();
  const [a, b] = [unique(first[0]), unique(second[0])];
  const origins = [testOrigin(a, first[1], first[2]), testOrigin(b, second[1], second[2])];
  return { clock, app, t, a, b, names: origins.map((o) => o.name), env: envWith(origins) };
}

describe('breaker through the gateway (injected clock)', () => {
  it('opens after N failures (the origin is no longer called) and closes after a successful half-open probe', async () => {
    const { clock, app, t, a: flaky, b: spare, names, env } = await twoOrigins(
      Date.UTC(2026, 10, 26, 12),
      ['flaky', '500', { breaker_failures: 2, breaker_cooldown_ms: 10_000 }],
      ['spare', 'png'],
    );

    for (let i = 0; i < 2; i++) {
      const { r } = await generateLogged(t, flaky, { seed: 100 + i }, { env, app });
      expect(r.headers.get('imagegate-origin')).toBe(names[1]);
    }
    expect(await originCalls(flaky)).toHaveLength(2);

    // open: passed over without a call, for the whole cool-down
    for (const advance of [0, 9_999]) {
      clock.now += advance;
      const { r, attempts } = await generateLogged(t, flaky, { seed: 110 + advance }, { env, app });
      expect(r.status, r.text()).toBe(200);
      expect(r.headers.get('imagegate-origin')).toBe(names[1]);
      expect(attempts.map((a) => [a.origin, a.outcome])).toEqual([
        [names[0], 'breaker_open'],
        [names[1], 'ok'],
      ]);
    }
    expect(await originCalls(flaky)).toHaveLength(2);

    // cool-down over: one probe, which succeeds and closes the breaker
    clock.now += 1;
    await scriptOrigin(flaky, ['png', 'png']);
    const probe = await generateLogged(t, flaky, { seed: 120 }, { env, app });
    expect(probe.r.headers.get('imagegate-origin')).toBe(names[0]);
    const after = await generateLogged(t, flaky, { seed: 121 }, { env, app });
    expect(after.r.headers.get('imagegate-origin')).toBe(names[0]);
    expect(await originCalls(flaky)).toHaveLength(4);
    expect(await originCalls(spare)).toHaveLength(4);
  });

  it('a failed half-open probe opens the breaker again at once', async () => {
    const { clock, app, t, a: flaky, env } = await twoOrigins(
      Date.UTC(2026, 10, 26, 13),
      ['flaky-probe', '500', { breaker_failures: 2, breaker_cooldown_ms: 5_000 }],
      ['spare-probe', 'png'],
    );
    for (let i = 0; i < 2; i++) await generateLogged(t, flaky, { seed: 200 + i }, { env, app });
    clock.now += 5_000;
    const probe = await generateLogged(t, flaky, { seed: 202 }, { env, app });
    expect(probe.attempts.map((a) => a.outcome)).toEqual(['server_error', 'ok']);
    const next = await generateLogged(t, flaky, { seed: 203 }, { env, app });
    expect(next.attempts.map((a) => a.outcome)).toEqual(['breaker_open', 'ok']);
    expect(await originCalls(flaky)).toHaveLength(3);
  });

  it('every eligible origin cooling down → an immediate 502 with Retry-After, nothing called or charged', async () => {
    const { clock, app, t, a, b, env } = await twoOrigins(
      Date.UTC(2026, 10, 26, 14),
      ['down-a', '500', { breaker_failures: 1, breaker_cooldown_ms: 30_000 }],
      ['down-b', '503', { breaker_failures: 1, breaker_cooldown_ms: 60_000 }],
    );
    expectError((await generateLogged(t, a, { seed: 300 }, { env, app })).r, 502, 'origin_error');

    clock.now += 12_000;
    const started = Date.now();
    const { r, attempts } = await generateLogged(t, a, { seed: 301 }, { env, app });
    expect(expectError(r, 502, 'origin_error')).toMatch(/cooling down/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(r.headers.get('retry-after')).toBe('18');
    expect(attempts.map((x) => x.outcome)).toEqual(['breaker_open', 'breaker_open']);
    expect(await originCalls(a)).toHaveLength(1);
    expect(await originCalls(b)).toHaveLength(1);
    await expectNothingCharged(t);
  });

  it("an origin's 4xx never opens its breaker", async () => {
    const { app } = clockedApp(Date.UTC(2026, 10, 26, 15));
    const t = await createTenantWithKey();
    const picky = unique('picky');
    const env = envWith([testOrigin(picky, '400', { breaker_failures: 1 })]);
    for (let i = 0; i < 3; i++) expectError((await generateLogged(t, picky, { seed: 400 + i }, { env, app })).r, 400, 'invalid_request');
    expect(await originCalls(picky)).toHaveLength(3);
  });
});
