import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import type { TenantKey } from './tenants';

/** 1024×1024 at 30 steps with the seed price row (docs/money.md). */
export const IMAGE_NANO = 1_992_295n;
export const BIG = { width: 1024, height: 1024, steps: 30 };

export type BudgetScope = 'key' | 'tenant';

/** A key's or tenant's budget as D1 holds it, in nano-USD. */
export interface BudgetState {
  spentNano: bigint;
  reservedNano: bigint;
  /** null: no budget. */
  budgetNano: bigint | null;
  /** The period the spent amount belongs to, e.g. `month:2032-02-01`; null before the first charge. */
  periodKey: string | null;
}

interface BudgetColumns {
  budget_nano: number | null;
  period_key: string | null;
  spent_nano: number;
  reserved_nano: number;
}

/** What a key or a tenant has spent and reserved, read straight from D1. */
export async function budgetState(scope: BudgetScope, id: string): Promise<BudgetState> {
  const table = scope === 'key' ? 'api_keys' : 'tenants';
  const row = await env.DB.prepare(`SELECT budget_nano, period_key, spent_nano, reserved_nano FROM ${table} WHERE id = ?`).bind(id).first<BudgetColumns>();
  if (!row) throw new Error(`no ${scope} ${id} in D1`);
  return {
    spentNano: BigInt(row.spent_nano),
    reservedNano: BigInt(row.reserved_nano),
    budgetNano: row.budget_nano === null ? null : BigInt(row.budget_nano),
    periodKey: row.period_key,
  };
}

/** The key's and its tenant's budget state together, to compare before and after. */
export async function chargesOf(t: TenantKey): Promise<{ key: BudgetState; tenant: BudgetState }> {
  return { key: await budgetState('key', t.keyId), tenant: await budgetState('tenant', t.tenantId) };
}

/** Runs `action` and asserts that it charged neither the key nor its tenant (nothing spent, nothing left reserved). */
export async function expectNoCharge<T>(t: TenantKey, action: () => Promise<T>): Promise<T> {
  const before = await chargesOf(t);
  const result = await action();
  expect(await chargesOf(t)).toEqual(before);
  expect(before.key.reservedNano).toBe(0n);
  expect(before.tenant.reservedNano).toBe(0n);
  return result;
}

/** For a tenant that only ever had requests refused: nothing spent, nothing reserved, ever. */
export async function expectNothingCharged(t: TenantKey): Promise<void> {
  const { key, tenant } = await chargesOf(t);
  expect({ key: [key.spentNano, key.reservedNano], tenant: [tenant.spentNano, tenant.reservedNano] }).toEqual({ key: [0n, 0n], tenant: [0n, 0n] });
}

/** A decimal USD string as the gateway writes it (`Imagegate-Cost-USD`, `spent_usd`), in nano-USD. */
export function nanoOfUsd(usd: string | null): bigint {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(usd ?? '');
  if (!m) throw new Error(`not a USD amount: ${JSON.stringify(usd)}`);
  return BigInt(m[1] ?? '0') * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

export interface LedgerRow {
  generation_id: string;
  request_id: string;
  key_id: string;
  tenant_id: string;
  model: string;
  width: number;
  height: number;
  steps: number;
  cost_nano: number;
  cache: string;
  origin: string | null;
  status: string;
  latency_ms: number;
  created_at: string;
  image_id: string | null;
  image_key: string | null;
}

/** The usage ledger's rows for a key, a tenant or one request, oldest first. */
export async function ledger(column: 'key_id' | 'tenant_id' | 'request_id', id: string): Promise<LedgerRow[]> {
  const { results } = await env.DB.prepare(`SELECT * FROM usage_ledger WHERE ${column} = ? ORDER BY created_at, generation_id`).bind(id).all<LedgerRow>();
  return results;
}

export async function ledgerSum(column: 'key_id' | 'tenant_id', id: string, sinceIso = ''): Promise<bigint> {
  const rows = await ledger(column, id);
  return rows.filter((r) => r.created_at >= sinceIso).reduce((s, r) => s + BigInt(r.cost_nano), 0n);
}

export async function reservationsOf(keyId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM reservations WHERE key_id = ?').bind(keyId).first<{ n: number }>();
  return row?.n ?? 0;
}

/** The budget invariant and the ledger identity, for keys of one tenant and the tenant (all in the current period). */
export async function expectBooksBalanced(keyIds: string[], tenantId: string): Promise<void> {
  let keysSpent = 0n;
  for (const keyId of keyIds) {
    const k = await budgetState('key', keyId);
    expect(k.reservedNano, `reserved on ${keyId}`).toBe(0n);
    expect(k.spentNano, `ledger of ${keyId}`).toBe(await ledgerSum('key_id', keyId));
    if (k.budgetNano !== null) expect(k.spentNano <= k.budgetNano, `spent within budget on ${keyId}`).toBe(true);
    expect(await reservationsOf(keyId)).toBe(0);
    keysSpent += k.spentNano;
  }
  const t = await budgetState('tenant', tenantId);
  expect(t.reservedNano).toBe(0n);
  expect(t.spentNano).toBe(await ledgerSum('tenant_id', tenantId));
  expect(t.spentNano).toBe(keysSpent);
  if (t.budgetNano !== null) expect(t.spentNano <= t.budgetNano, 'spent within the tenant budget').toBe(true);
}
