import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { actorOf } from '../../src/domain/audit';
import { Failed } from '../../src/domain/failure';
import { hashKey } from '../../src/domain/keys';
import { BOOTSTRAP_PRINCIPAL } from '../../src/domain/roles';
import {
  createAdmin,
  getAdmin,
  listAdmins,
  principalByToken,
  principalOf,
  revokeAdmin,
  rotateAdmin,
  type AdminRecord,
  type NewAdmin,
} from '../../src/storage/admins';
import { commitAudited } from '../../src/storage/audit';
import { unique } from '../helpers/api';
import { auditRowsFor, entry, iso, newTenant, T0 } from './support';

const db = env.DB;

/** Creates a principal with its audit entry, as the route will. */
async function created(input: Partial<NewAdmin> = {}, now = T0): Promise<{ record: AdminRecord; token: string; requestId: string }> {
  const write = await createAdmin(db, { name: unique('admin'), role: 'viewer', tenantId: null, ...input }, iso(now));
  const requestId = unique('req');
  const audit = entry({ at: iso(now), action: 'admin.create', target: { type: 'admin', id: write.record.id }, after: { ...write.record }, requestId });
  const { applied } = await commitAudited(db, write.statement, audit);
  expect(applied).toBe(true);
  return { record: write.record, token: write.token, requestId };
}

async function lookup(token: string, at: number): Promise<AdminRecord | null> {
  return principalByToken(db, await hashKey(token), iso(at));
}

describe('admin principals in storage', () => {
  it('round-trips create, get and list, storing only the hash of the token', async () => {
    const { record, token } = await created({ role: 'admin' });
    expect(token).toMatch(/^iga_[0-9A-Za-z]{40}$/);
    expect(record.prefix).toBe(token.slice(0, 12));
    expect(record.id).toMatch(/^adm_/);
    expect(await getAdmin(db, record.id)).toEqual(record);
    expect((await listAdmins(db)).find((a) => a.id === record.id)).toEqual(record);
    const raw = await db.prepare('SELECT * FROM admin_principals WHERE id = ?').bind(record.id).first<Record<string, unknown>>();
    expect(raw?.token_hash).toBe(await hashKey(token));
    expect(JSON.stringify(raw)).not.toContain(token);
    expect(await lookup(token, T0)).toEqual(record);
    expect(principalOf(record)).toEqual({ type: 'admin', id: record.id, name: record.name, role: 'admin', tenantId: null });
  });

  it('binds a tenant_admin to one existing tenant, and no other role to any', async () => {
    const tenantId = await newTenant();
    const { record } = await created({ role: 'tenant_admin', tenantId });
    expect((await getAdmin(db, record.id))?.tenantId).toBe(tenantId);
    for (const bad of [
      { role: 'tenant_admin', tenantId: null },
      { role: 'admin', tenantId },
      { role: 'tenant_admin', tenantId: 'ten_nobody' },
      { role: 'superuser', tenantId: null },
    ] as const) {
      const write = await createAdmin(db, { ...(bad as Omit<NewAdmin, 'name'>), name: 'x' }, iso(T0));
      const requestId = unique('req');
      await expect(commitAudited(db, write.statement, entry({ requestId }))).rejects.toThrow();
      expect(await getAdmin(db, write.record.id)).toBeNull();
      expect(await auditRowsFor(requestId)).toEqual([]);
    }
  });

  it('answers nothing for an unknown token or id', async () => {
    expect(await getAdmin(db, 'adm_nobody')).toBeNull();
    expect(await lookup('iga_' + 'x'.repeat(40), T0)).toBeNull();
  });

  it('revokes at once, the previous token in its grace period too, and only once', async () => {
    const { record, token } = await created();
    const rotation = await rotateAdmin(db, record, 3600, iso(T0));
    await commitAudited(db, rotation.statement, entry({ action: 'admin.rotate' }));
    expect(await lookup(token, T0 + 1000)).not.toBeNull();

    const requestId = unique('req');
    const first = await commitAudited(db, revokeAdmin(db, record.id, iso(T0 + 2000)), entry({ action: 'admin.revoke', requestId }));
    expect(first.applied).toBe(true);
    expect(await lookup(token, T0 + 2001)).toBeNull();
    expect(await lookup(rotation.token, T0 + 2001)).toBeNull();
    expect((await getAdmin(db, record.id))?.revokedAt).toBe(iso(T0 + 2000));

    const again = await commitAudited(db, revokeAdmin(db, record.id, iso(T0 + 3000)), entry({ action: 'admin.revoke', requestId }));
    expect(again.applied).toBe(false);
    expect(await auditRowsFor(requestId)).toHaveLength(1);
    expect((await getAdmin(db, record.id))?.revokedAt).toBe(iso(T0 + 2000));
  });
});

describe('rotating an admin token on a fixed clock', () => {
  const GRACE = 600;

  it('keeps the old token until the grace period ends, then only the new one', async () => {
    const { record, token: old } = await created({ role: 'admin' });
    const rotation = await rotateAdmin(db, record, GRACE, iso(T0));
    expect(rotation.record.previousExpiresAt).toBe(iso(T0 + GRACE * 1000));
    expect((await commitAudited(db, rotation.statement, entry({ action: 'admin.rotate' }))).applied).toBe(true);
    expect(await getAdmin(db, record.id)).toEqual(rotation.record);
    expect(rotation.token).not.toBe(old);

    expect((await lookup(old, T0 + (GRACE - 1) * 1000))?.id).toBe(record.id);
    expect((await lookup(rotation.token, T0 + (GRACE - 1) * 1000))?.id).toBe(record.id);
    expect(await lookup(old, T0 + (GRACE + 1) * 1000)).toBeNull();
    expect((await lookup(rotation.token, T0 + (GRACE + 1) * 1000))?.id).toBe(record.id);
  });

  it('with no grace stops the old token at once', async () => {
    const { record, token: old } = await created();
    const rotation = await rotateAdmin(db, record, 0, iso(T0));
    expect(rotation.record.previousExpiresAt).toBeNull();
    await commitAudited(db, rotation.statement, entry({ action: 'admin.rotate' }));
    expect(await lookup(old, T0)).toBeNull();
    expect(await lookup(rotation.token, T0)).not.toBeNull();
  });

  it('keeps one previous token: a second rotation ends the first one’s grace', async () => {
    const { record, token: first } = await created();
    const r1 = await rotateAdmin(db, record, GRACE, iso(T0));
    await commitAudited(db, r1.statement, entry({ action: 'admin.rotate' }));
    const r2 = await rotateAdmin(db, r1.record, GRACE, iso(T0 + 1000));
    await commitAudited(db, r2.statement, entry({ action: 'admin.rotate' }));
    expect(await lookup(first, T0 + 2000)).toBeNull();
    expect(await lookup(r1.token, T0 + 2000)).not.toBeNull();
    expect(await lookup(r2.token, T0 + 2000)).not.toBeNull();
  });

  it('refuses a grace period outside 0–7 days, and a revoked principal', async () => {
    const { record } = await created();
    for (const grace of [-1, 604_801, 1.5, Number.NaN]) {
      const error = await rotateAdmin(db, record, grace, iso(T0)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Failed);
      expect((error as Failed).failure).toMatchObject({ code: 'invalid_request', param: 'grace_seconds' });
    }
    await expect(rotateAdmin(db, record, 604_800, iso(T0))).resolves.toBeDefined();

    await commitAudited(db, revokeAdmin(db, record.id, iso(T0)), entry({ action: 'admin.revoke' }));
    const requestId = unique('req');
    const late = await rotateAdmin(db, record, 60, iso(T0 + 1000));
    const { applied } = await commitAudited(db, late.statement, entry({ actor: actorOf(BOOTSTRAP_PRINCIPAL), requestId }));
    expect(applied).toBe(false);
    expect(await auditRowsFor(requestId)).toEqual([]);
    expect(await lookup(late.token, T0 + 1000)).toBeNull();
  });
});
