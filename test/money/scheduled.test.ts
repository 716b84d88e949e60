import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import type { Caller } from '../../src/domain/tenants';
import { requestLifetimes } from '../../src/domain/lifetimes';
import { DEFAULT_ORIGIN_DEADLINE_MS } from '../../src/origins/config';
import type { LedgerEntry } from '../../src/storage/ledger';
import { release, reserve, settle } from '../../src/storage/reservations';
import { getKey, getTenant } from '../../src/storage/tenants';
import { call, DEFAULT_MODEL, unique } from '../helpers/api';
import { budgetState, expectBooksBalanced, IMAGE_NANO, ledger, reservationsOf } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** A reservation's lifetime under the default origin deadline. */
const RESERVATION_MS = requestLifetimes(DEFAULT_ORIGIN_DEADLINE_MS).reservationMs;

async function callerOf(keyId: string, tenantId: string): Promise<Caller> {
  const key = await getKey(env.DB, keyId);
  const tenant = await getTenant(env.DB, tenantId);
  if (!key || !tenant) throw new Error('missing key or tenant');
  return { key, tenant };
}

const request = { model: DEFAULT_MODEL, prompt: 'p', negative_prompt: '', width: 1024, height: 1024, steps: 30, cfg: 7.5, seed: 1, output_format: 'png' as const };

function entry(generationId: string, status = 'ok'): LedgerEntry {
  return { generationId, requestId: generationId, request, cache: 'miss', origin: 'test', status, latencyMs: 5 };
}

async function runCron(scheduledTime: number): Promise<void> {
  const controller = createScheduledController({ scheduledTime, cron: '* * * * *' });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, env, ctx);
  await waitOnExecutionContext(ctx);
}

describe('reservations whose request died', () => {
  it('the scheduled handler releases an expired reservation, and a late settle or release changes nothing', async () => {
    const { keyId, tenantId } = await createTenantWithKey({ tenant: { budget_usd: '0.003' }, key: { budget_usd: '0.002' } });
    const caller = await callerOf(keyId, tenantId);
    const now = Date.now();
    const dead = { generationId: `req_dead${now}`, costNano: IMAGE_NANO, request };
    expect(await reserve(env.DB, caller, [dead], now, RESERVATION_MS)).toEqual({ ok: true });
    expect((await budgetState('key', keyId)).reservedNano).toBe(1_992_295n);
    expect((await budgetState('tenant', tenantId)).reservedNano).toBe(1_992_295n);

    // while it is held, the budget has no room for another image
    const refused = await reserve(env.DB, caller, [{ generationId: `req_other${now}`, costNano: IMAGE_NANO, request }], now, RESERVATION_MS);
    expect(refused).toMatchObject({ ok: false, scope: 'key', remainingNano: 7_705n, costNano: IMAGE_NANO, period: 'this month' });

    // before it expires, the cron leaves it alone
    await runCron(now + RESERVATION_MS - 1_000);
    expect((await budgetState('key', keyId)).reservedNano).toBe(1_992_295n);

    await runCron(now + RESERVATION_MS + 1_000);
    expect((await budgetState('key', keyId)).reservedNano).toBe(0n);
    expect((await budgetState('tenant', tenantId)).reservedNano).toBe(0n);
    expect(await reservationsOf(keyId)).toBe(0);
    const rows = await ledger('key_id', keyId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ generation_id: dead.generationId, status: 'expired', cost_nano: 0, model: DEFAULT_MODEL, width: 1024 });

    // the request was not dead after all: its settle comes too late and must not apply twice
    await settle(env.DB, caller, dead, entry(dead.generationId), now + RESERVATION_MS + 2_000);
    await release(env.DB, caller, dead, entry(dead.generationId, 'origin_error'), now + RESERVATION_MS + 2_000);
    const k = await budgetState('key', keyId);
    expect(k.reservedNano).toBe(0n);
    expect(k.spentNano).toBe(0n);
    expect(await ledger('key_id', keyId)).toHaveLength(1);
    await expectBooksBalanced([keyId], tenantId);

    // and the budget is whole again
    const key = (await call('GET', `/admin/keys/${keyId}`, { admin: true })).json();
    expect(key.budget_usd).toBe('0.002');
    expect(await reserve(env.DB, caller, [{ generationId: `req_again${now}`, costNano: IMAGE_NANO, request }], now, RESERVATION_MS)).toEqual({ ok: true });
    await settle(env.DB, caller, { generationId: `req_again${now}` }, entry(`req_again${now}`), now);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('settle and release each apply once, even when called twice', async () => {
    const { keyId, tenantId } = await createTenantWithKey();
    const caller = await callerOf(keyId, tenantId);
    const now = Date.now();
    const a = { generationId: `req_a${now}`, costNano: 5n, request };
    const b = { generationId: `req_b${now}`, costNano: 7n, request };
    expect(await reserve(env.DB, caller, [a, b], now, RESERVATION_MS)).toEqual({ ok: true });
    expect((await budgetState('key', keyId)).reservedNano).toBe(12n);
    await settle(env.DB, caller, a, entry(a.generationId), now);
    await settle(env.DB, caller, a, entry(a.generationId), now);
    await release(env.DB, caller, b, entry(b.generationId, 'origin_error'), now);
    await release(env.DB, caller, b, entry(b.generationId, 'origin_error'), now);
    const k = await budgetState('key', keyId);
    expect(k).toMatchObject({ spentNano: 5n, reservedNano: 0n });
    expect((await budgetState('tenant', tenantId)).spentNano).toBe(5n);
    expect(await ledger('key_id', keyId)).toHaveLength(2);
    await expectBooksBalanced([keyId], tenantId);
  });

  it('a reservation made in one month and settled in the next is charged to the new month', async () => {
    const { keyId, tenantId } = await createTenantWithKey({ key: { budget_usd: '0.003' } });
    const caller = await callerOf(keyId, tenantId);
    const nov = Date.UTC(2031, 10, 30, 23, 59, 59);
    const dec = Date.UTC(2031, 11, 1, 0, 0, 1);
    const spend = { generationId: unique(`req_nov${nov}`), costNano: 1_000_000n, request };
    expect(await reserve(env.DB, caller, [spend], nov, RESERVATION_MS)).toEqual({ ok: true });
    await settle(env.DB, caller, spend, entry(spend.generationId), nov);
    const held = { generationId: unique(`req_held${nov}`), costNano: 1_500_000n, request };
    expect(await reserve(env.DB, caller, [held], nov, RESERVATION_MS)).toEqual({ ok: true });
    // December: November's spend is gone, the reservation in flight still counts
    const tooMuch = await reserve(env.DB, caller, [{ generationId: unique('req_x'), costNano: 1_600_000n, request }], dec, RESERVATION_MS);
    expect(tooMuch).toMatchObject({ ok: false, remainingNano: 1_500_000n });
    await settle(env.DB, caller, held, entry(held.generationId), dec);
    expect(await budgetState('key', keyId)).toMatchObject({ spentNano: 1_500_000n, reservedNano: 0n, periodKey: 'month:2031-12-01' });
    const rows = await ledger('key_id', keyId);
    expect(rows.filter((r) => r.created_at >= '2031-12-01').reduce((s, r) => s + r.cost_nano, 0)).toBe(1_500_000);
  });
});
