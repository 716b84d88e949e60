import { describe, expect, it } from 'vitest';
import { call, clockedApp, envWith, genBody, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/* docs/origins.md: a connection error moves on; the breaker's defaults (5 failures, 30 s). */
const GEN = '/image/generation';
const closedPort = (name: string) => ({ name, kind: 'qubrid', url: 'http://127.0.0.1:1/image/generation', models: ['*'], timeout_ms: 2_000 });

describe('audit docs/origins.md: origins', () => {
  it('a connection error moves to the next origin; when it is the last failure the answer is 502', async () => {
    const tk = await createTenantWithKey({ key: { budget_usd: '1' } });
    const ok = unique('after-refused');
    const r = await call('POST', GEN, { key: tk.key, env: envWith([closedPort(unique('closed')), testOrigin(ok, 'png')]), json: genBody(unique('c')) });
    expect(r.status, r.text()).toBe(200);
    expect(await originCalls(ok)).toHaveLength(1);
    const spentAfterOk = (await budgetState('key', tk.keyId)).spentNano;

    const hang = unique('hang-then-closed');
    const last = await call('POST', GEN, {
      key: tk.key,
      env: envWith([testOrigin(hang, 'hang', { timeout_ms: 300 }), closedPort(unique('closed'))]),
      json: genBody(unique('c')),
    });
    expectError(last, 502, 'origin_error');
    const timeoutLast = await call('POST', GEN, {
      key: tk.key,
      env: envWith([closedPort(unique('closed')), testOrigin(unique('hang-last'), 'hang', { timeout_ms: 300 })]),
      json: genBody(unique('c')),
    });
    expectError(timeoutLast, 504, 'origin_timeout');
    expect((await budgetState('key', tk.keyId)).spentNano).toBe(spentAfterOk);
  });

  it('default breaker: 5 consecutive failures, then skipped for 30 s, then one probe', async () => {
    const { clock, app } = clockedApp(Date.UTC(2031, 2, 3, 10));
    const tk = await createTenantWithKey();
    const bad = unique('bad');
    const good = unique('good');
    const env = envWith([testOrigin(bad, '500'), testOrigin(good, 'png')]);
    for (let i = 0; i < 6; i++) {
      const r = await call('POST', GEN, { key: tk.key, app, env, json: genBody(unique('b')) });
      expect(r.status, r.text()).toBe(200);
      clock.now += 1_000;
    }
    expect(await originCalls(bad)).toHaveLength(5);
    // the 5th failure was at +4 s: skipped until 30 s after it
    clock.now = Date.UTC(2031, 2, 3, 10) + 4_000 + 29_999;
    await call('POST', GEN, { key: tk.key, app, env, json: genBody(unique('b')) });
    expect(await originCalls(bad)).toHaveLength(5);
    clock.now = Date.UTC(2031, 2, 3, 10) + 4_000 + 30_000;
    await call('POST', GEN, { key: tk.key, app, env, json: genBody(unique('b')) });
    expect(await originCalls(bad)).toHaveLength(6);
  });
});
