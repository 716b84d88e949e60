import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { requestLifetimes } from '../../src/domain/lifetimes';
import { call, clockedApp, envWith, genBody, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { budgetState, ledger, reservationsOf } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** A dead request gives everything back quickly (docs/operations.md, "Recovery"), on a fixed clock. */

const DEADLINE_MS = 4_000;
const LIFETIMES = requestLifetimes(DEADLINE_MS);

async function runCron(scheduledTime: number): Promise<void> {
  const controller = createScheduledController({ scheduledTime, cron: '* * * * *' });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, env, ctx);
  await waitOnExecutionContext(ctx);
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Idempotency-Key 409 while the first request runs', () => {
  it('carries Retry-After: the seconds until the first request\'s lease ends, at least 1', async () => {
    const { clock, app } = clockedApp(Date.UTC(2034, 2, 3, 10, 0, 0));
    const t = await createTenantWithKey();
    const scenario = unique('ops-idem');
    const e = envWith([testOrigin(scenario, 'slow-1500')], { ORIGIN_DEADLINE_MS: String(DEADLINE_MS) });
    const headers = { 'idempotency-key': unique('ik') };
    const json = genBody(scenario, { seed: 31 });
    const first = call('POST', '/image/generation', { app, key: t.key, env: e, json, headers });
    await until(async () => (await originCalls(scenario)).length === 1, 'the first request to reach its origin');

    const leaseS = LIFETIMES.idempotencyLeaseMs / 1000;
    const right = await call('POST', '/image/generation', { app, key: t.key, env: e, json, headers });
    expectError(right, 409, 'idempotency_in_progress');
    expect(right.headers.get('retry-after')).toBe(String(leaseS));

    clock.now += 10_500;
    const later = await call('POST', '/image/generation', { app, key: t.key, env: e, json, headers });
    expectError(later, 409, 'idempotency_in_progress');
    expect(later.headers.get('retry-after')).toBe(String(Math.ceil(leaseS - 10.5)));

    // the last half second of the lease still says 1, never 0
    clock.now += LIFETIMES.idempotencyLeaseMs - 10_500 - 500;
    const last = await call('POST', '/image/generation', { app, key: t.key, env: e, json, headers });
    expectError(last, 409, 'idempotency_in_progress');
    expect(last.headers.get('retry-after')).toBe('1');

    expect((await first).status).toBe(200);
  });
});

describe('a request that dies at its origin', () => {
  it('is released by the cron within the deadline + 30 s, and its expired ledger rows keep their cache word', async () => {
    const start = Date.UTC(2034, 3, 4, 11, 0, 0);
    const { app } = clockedApp(start);
    const t = await createTenantWithKey({ key: { budget_usd: '1' } });
    const scenario = unique('ops-dead');
    // the origin never answers and its own timeout outlasts the test's cron: as good as a dead worker
    const e = envWith([testOrigin(scenario, 'hang', { timeout_ms: 3_000 })], { ORIGIN_DEADLINE_MS: String(DEADLINE_MS) });
    const unseeded = call('POST', '/image/generation', { app, key: t.key, env: e, json: genBody(unique('dead-u')) });
    const seeded = call('POST', '/image/generation', { app, key: t.key, env: e, json: genBody(unique('dead-s'), { seed: 77 }) });
    await until(async () => (await reservationsOf(t.keyId)) === 2, 'both reservations');
    expect((await budgetState('key', t.keyId)).reservedNano).toBeGreaterThan(0n);

    // one millisecond short of the reservation's lifetime the cron leaves it; at its end it is gone
    await runCron(start + LIFETIMES.reservationMs - 1);
    expect(await reservationsOf(t.keyId)).toBe(2);
    expect(LIFETIMES.reservationMs).toBeLessThanOrEqual(DEADLINE_MS + 90_000);
    await runCron(start + LIFETIMES.reservationMs);
    expect(await reservationsOf(t.keyId)).toBe(0);
    expect(await budgetState('key', t.keyId)).toMatchObject({ spentNano: 0n, reservedNano: 0n });
    const rows = await ledger('key_id', t.keyId);
    expect(rows.map((r) => [r.status, r.cache, r.cost_nano]).sort()).toEqual([
      ['expired', 'bypass', 0],
      ['expired', 'miss', 0],
    ]);

    // the requests end later, on their origin's timeout: their release finds nothing left to give back
    for (const r of await Promise.all([unseeded, seeded])) expect(r.status).toBeGreaterThanOrEqual(500);
    expect(await ledger('key_id', t.keyId)).toHaveLength(2);
    expect(await budgetState('key', t.keyId)).toMatchObject({ spentNano: 0n, reservedNano: 0n });
  });
});
