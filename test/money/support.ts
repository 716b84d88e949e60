import { env } from 'cloudflare:test';
import { expect } from 'vitest';

/** 1024×1024 at 30 steps with the seed price row (CONTRACT §4). */
export const IMAGE_NANO = 1_992_295n;
export const BIG = { width: 1024, height: 1024, steps: 30 };

export interface Row {
  budget_nano: number | null;
  budget_period: string;
  period_key: string | null;
  spent_nano: number;
  reserved_nano: number;
}

/** A key's or tenant's budget columns, read straight from D1. */
async function budgetRow(table: 'api_keys' | 'tenants', id: string): Promise<Row> {
  const row = await env.DB.prepare(`SELECT budget_nano, budget_period, period_key, spent_nano, reserved_nano FROM ${table} WHERE id = ?`)
    .bind(id)
    .first<Row>();
  if (!row) throw new Error(`no ${table === 'api_keys' ? 'key' : 'tenant'} ${id}`);
  return row;
}

export function keyRow(keyId: string): Promise<Row> {
  return budgetRow('api_keys', keyId);
}

export function tenantRow(tenantId: string): Promise<Row> {
  return budgetRow('tenants', tenantId);
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

export async function ledger(column: 'key_id' | 'tenant_id', id: string): Promise<LedgerRow[]> {
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

/** The invariant and the ledger identity, for a key and its tenant (all in the current period). */
export async function expectBooksBalanced(keyIds: string[], tenantId: string): Promise<void> {
  let keysSpent = 0n;
  for (const keyId of keyIds) {
    const k = await keyRow(keyId);
    expect(k.reserved_nano, `reserved on ${keyId}`).toBe(0);
    expect(BigInt(k.spent_nano), `ledger of ${keyId}`).toBe(await ledgerSum('key_id', keyId));
    if (k.budget_nano !== null) expect(k.spent_nano).toBeLessThanOrEqual(k.budget_nano);
    expect(await reservationsOf(keyId)).toBe(0);
    keysSpent += BigInt(k.spent_nano);
  }
  const t = await tenantRow(tenantId);
  expect(t.reserved_nano).toBe(0);
  expect(BigInt(t.spent_nano)).toBe(await ledgerSum('tenant_id', tenantId));
  expect(BigInt(t.spent_nano)).toBe(keysSpent);
  if (t.budget_nano !== null) expect(t.spent_nano).toBeLessThanOrEqual(t.budget_nano);
}
