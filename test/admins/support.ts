import { env } from 'cloudflare:test';
import type { AuditEntry } from '../../src/domain/audit';
import { BOOTSTRAP_PRINCIPAL } from '../../src/domain/roles';
import { actorOf } from '../../src/domain/audit';
import { newId } from '../../src/domain/keys';
import { insertTenant } from '../../src/storage/tenants';
import { unique } from '../helpers/api';

export const T0 = Date.parse('2026-12-01T12:00:00.000Z');
export const iso = (ms: number) => new Date(ms).toISOString();

/** A fresh tenant row, straight through storage. */
export async function newTenant(budgetNano: number | null = null): Promise<string> {
  const tenant = await insertTenant(env.DB, newId('ten'), { name: unique('tenant'), budgetNano: budgetNano === null ? null : BigInt(budgetNano) }, iso(T0));
  return tenant.id;
}

/** An entry by the bootstrap owner; `overrides` change any part of it. */
export function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: iso(T0),
    actor: actorOf(BOOTSTRAP_PRINCIPAL),
    action: 'tenant.update',
    target: { type: 'tenant', id: 'ten_x' },
    tenantId: null,
    before: null,
    after: null,
    requestId: unique('req'),
    ...overrides,
  };
}

export async function auditRowsFor(requestId: string): Promise<Record<string, unknown>[]> {
  const { results } = await env.DB.prepare('SELECT * FROM audit_log WHERE request_id = ?').bind(requestId).all();
  return results;
}
