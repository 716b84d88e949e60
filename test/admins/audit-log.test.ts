import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { auditTimeRange, auditedFields, decodeAuditCursor, encodeAuditCursor, sanitize, type Fields } from '../../src/domain/audit';
import { Failed } from '../../src/domain/failure';
import { newTenantKey as newPlainKey } from '../../src/domain/keys';
import { newAdminToken } from '../../src/domain/roles';
import { createAdmin } from '../../src/storage/admins';
import { auditStatement, commitAudited, listAudit, type AuditFilters } from '../../src/storage/audit';
import { unique } from '../helpers/api';
import { auditRowsFor, entry, iso, newTenant, T0 } from './support';

const db = env.DB;

async function failureOf(promise: Promise<unknown>): Promise<Failed['failure']> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Failed);
  return (error as Failed).failure;
}

/** Appends an entry with a change that always touches one row (a tenant's updated_at). */
async function append(tenantId: string, overrides: Parameters<typeof entry>[0] = {}): Promise<void> {
  const touch = db.prepare('UPDATE tenants SET updated_at = updated_at WHERE id = ?').bind(tenantId);
  const { applied } = await commitAudited(db, touch, entry({ tenantId, target: { type: 'tenant', id: tenantId }, ...overrides }));
  expect(applied).toBe(true);
}

describe('the audit log is append-only', () => {
  it('refuses UPDATE and DELETE of an entry, in storage itself', async () => {
    const tenantId = await newTenant();
    const requestId = unique('req');
    await append(tenantId, { requestId });
    const [row] = await auditRowsFor(requestId);
    await expect(db.prepare("UPDATE audit_log SET action = 'tenant.nothing' WHERE id = ?").bind(row?.id).run()).rejects.toThrow(/append-only/);
    await expect(db.prepare('DELETE FROM audit_log WHERE id = ?').bind(row?.id).run()).rejects.toThrow(/append-only/);
    await expect(db.prepare('DELETE FROM audit_log').run()).rejects.toThrow(/append-only/);
    expect(await auditRowsFor(requestId)).toEqual([row]);
  });
});

describe('a change and its entry are one batch', () => {
  it('writes no entry when the change fails a CHECK, and no change when the entry fails', async () => {
    const tenantId = await newTenant(5_000);
    const requestId = unique('req');
    const bad = db.prepare('UPDATE tenants SET budget_nano = -1 WHERE id = ?').bind(tenantId);
    await expect(commitAudited(db, bad, entry({ tenantId, requestId }))).rejects.toThrow();
    expect(await auditRowsFor(requestId)).toEqual([]);

    const good = db.prepare('UPDATE tenants SET budget_nano = 9000 WHERE id = ?').bind(tenantId);
    const badEntry = entry({ tenantId, requestId, action: 'NotNounVerb' as 'a.b' });
    await expect(commitAudited(db, good, badEntry)).rejects.toThrow();
    const row = await db.prepare('SELECT budget_nano FROM tenants WHERE id = ?').bind(tenantId).first<{ budget_nano: number }>();
    expect(row?.budget_nano).toBe(5_000);
    expect(await auditRowsFor(requestId)).toEqual([]);
  });

  it('writes no entry for a change that matched no row', async () => {
    const requestId = unique('req');
    const none = db.prepare('UPDATE tenants SET name = ? WHERE id = ?').bind('x', 'ten_nobody');
    expect((await commitAudited(db, none, entry({ requestId }))).applied).toBe(false);
    expect(await auditRowsFor(requestId)).toEqual([]);
  });

  it('batches with several statements, the entry guarded by the last', async () => {
    const tenantId = await newTenant();
    const requestId = unique('req');
    const write = await createAdmin(db, { name: 'lead', role: 'tenant_admin', tenantId }, iso(T0));
    const rename = db.prepare("UPDATE tenants SET name = 'renamed' WHERE id = ?").bind(tenantId);
    const { applied, results } = await commitAudited(db, [write.statement, rename], entry({ tenantId, requestId }));
    expect(applied).toBe(true);
    expect(results).toHaveLength(2);
    expect(await auditRowsFor(requestId)).toHaveLength(1);
  });
});

describe('no secret in any entry', () => {
  const key = newPlainKey();
  const token = newAdminToken();
  const leaky: Fields = {
    name: 'checkout',
    key,
    token,
    secret: 'whsec_abc',
    hash: 'deadbeef',
    key_hash: 'aa',
    tokenHash: 'bb',
    previous_key_hash: 'cc',
    plaintext: key,
    signing_secret: 'dd',
    note: token,
    nested: { api_token: 'ee', prefix: key.slice(0, 12), list: [key, 'fine'] },
    budget_usd: '25',
    spent: 12n,
  };

  it('drops every field named for a secret, and every value that is one, at any depth', () => {
    expect(sanitize(leaky)).toEqual({
      name: 'checkout',
      nested: { prefix: key.slice(0, 12), list: ['fine'] },
      budget_usd: '25',
      spent: '12',
    });
  });

  it('is what storage keeps, cut to the fields that changed', async () => {
    const tenantId = await newTenant();
    const requestId = unique('req');
    const before = { ...leaky, budget_usd: '10', disabled: false };
    await append(tenantId, { requestId, before, after: { ...leaky, key: newPlainKey(), disabled: true } });
    const [row] = await auditRowsFor(requestId);
    const stored = JSON.stringify(row);
    for (const secret of [key, token, 'whsec_abc', 'deadbeef', 'aa', 'bb', 'cc', 'dd', 'ee']) expect(stored).not.toContain(`"${secret}"`);
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(token);
    const page = await listAudit(db, { tenantId });
    expect(page.entries[0]).toMatchObject({ before: { budget_usd: '10', disabled: false }, after: { budget_usd: '25', disabled: true } });
  });

  it('keeps a created object whole and a deleted one whole, secrets out', () => {
    expect(auditedFields(null, { name: 'a', key })).toEqual({ before: null, after: { name: 'a' } });
    expect(auditedFields({ name: 'a', token }, null)).toEqual({ before: { name: 'a' }, after: null });
    expect(auditedFields({ a: 1, b: [1] }, { a: 1, b: [2], c: null })).toEqual({ before: { b: [1] }, after: { b: [2], c: null } });
  });
});

describe('reading the log', () => {
  async function readAll(filters: AuditFilters, between?: (page: number) => Promise<void>): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page += 1) {
      const result = await listAudit(db, { ...filters, cursor });
      ids.push(...result.entries.map((e) => e.id));
      if (result.nextCursor === null) return ids;
      cursor = result.nextCursor;
      await between?.(page);
    }
    throw new Error('pagination did not end');
  }

  it('returns every entry exactly once, newest first, while entries are added between pages', async () => {
    const tenantId = await newTenant();
    // 25 entries over 10 ms, several sharing a millisecond, so ties are broken by id
    for (let i = 0; i < 25; i += 1) await append(tenantId, { at: iso(T0 + Math.floor(i / 3)) });
    const seeded = (await listAudit(db, { tenantId, limit: 200 })).entries;
    expect(seeded).toHaveLength(25);
    const added: string[] = [];
    const ids = await readAll({ tenantId, limit: 4 }, async (page) => {
      // one newer than all, one inside the range already read, one at a tie
      await append(tenantId, { at: iso(T0 + 100 + page), requestId: `late-${tenantId}-${page}a` });
      await append(tenantId, { at: iso(T0), requestId: `late-${tenantId}-${page}b` });
      added.push(`late-${tenantId}-${page}a`, `late-${tenantId}-${page}b`);
    });
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of seeded) expect(ids).toContain(e.id);
    expect(added.length).toBeGreaterThan(8);

    const inOrder = (await listAudit(db, { tenantId, limit: 200 })).entries.map((e) => [e.at, e.id].join(' '));
    expect(inOrder).toEqual([...inOrder].sort().reverse());
  });

  it('filters by tenant, target, actor, action and time', async () => {
    const tenantId = await newTenant();
    const target = unique('key');
    await append(tenantId, { at: iso(T0 + 1), action: 'key.create', target: { type: 'key', id: target } });
    await append(tenantId, { at: iso(T0 + 2), action: 'key.revoke', target: { type: 'key', id: target } });
    await append(tenantId, { at: iso(T0 + 3), action: 'key.create', actor: { type: 'admin', id: 'adm_lead', name: 'lead', role: 'tenant_admin' } });
    const actions = async (f: AuditFilters) => (await listAudit(db, { tenantId, ...f })).entries.map((e) => e.action);
    expect(await actions({})).toEqual(['key.create', 'key.revoke', 'key.create']);
    expect(await actions({ targetId: target })).toEqual(['key.revoke', 'key.create']);
    expect(await actions({ action: 'key.revoke' })).toEqual(['key.revoke']);
    expect(await actions({ actorId: 'adm_lead' })).toEqual(['key.create']);
    expect(await actions({ from: iso(T0 + 2), to: iso(T0 + 3) })).toEqual(['key.revoke']);
    expect((await listAudit(db, { tenantId: await newTenant() })).entries).toEqual([]);
    const [newest] = (await listAudit(db, { tenantId, limit: 1 })).entries;
    expect(newest).toMatchObject({ tenantId, actor: { id: 'adm_lead', role: 'tenant_admin' }, target: { type: 'tenant', id: tenantId } });
  });

  it('answers the last page with no cursor, and a page of one with one', async () => {
    const tenantId = await newTenant();
    await append(tenantId);
    await append(tenantId);
    const first = await listAudit(db, { tenantId, limit: 1 });
    expect(first.nextCursor).not.toBeNull();
    const second = await listAudit(db, { tenantId, limit: 1, cursor: first.nextCursor ?? undefined });
    expect(second.entries).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    expect((await listAudit(db, { tenantId, limit: 2 })).nextCursor).toBeNull();
  });

  it('refuses a limit out of 1–200 and a cursor it did not write', async () => {
    for (const limit of [0, 201, 2.5]) {
      expect(await failureOf(listAudit(db, { limit }))).toMatchObject({ code: 'invalid_request', param: 'limit' });
    }
    for (const cursor of ['nope!', btoa('2026-12-01|aud_1'), encodeAuditCursor({ at: 'x', id: 'aud_1' }), '']) {
      expect(await failureOf(listAudit(db, { cursor }))).toMatchObject({ code: 'invalid_request', param: 'cursor' });
    }
    const cursor = { at: iso(T0), id: 'aud_0abc' };
    expect(decodeAuditCursor(encodeAuditCursor(cursor))).toEqual(cursor);
  });

  it('builds an entry statement that batches with any change', async () => {
    const tenantId = await newTenant();
    const requestId = unique('req');
    const rename = db.prepare("UPDATE tenants SET name = 'x' WHERE id = ?").bind(tenantId);
    await db.batch([rename, auditStatement(db, entry({ tenantId, requestId }))]);
    expect(await auditRowsFor(requestId)).toHaveLength(1);
  });
});

describe('the time range of a query', () => {
  it.each([
    [undefined, undefined, {}],
    ['2026-11-26', '2026-11-26', { from: '2026-11-26T00:00:00.000Z', to: '2026-11-27T00:00:00.000Z' }],
    ['2026-11-26T10:00:00Z', '2026-11-26T11:30:00.250+01:00', { from: '2026-11-26T10:00:00.000Z', to: '2026-11-26T10:30:00.250Z' }],
    ['2026-12-31', undefined, { from: '2026-12-31T00:00:00.000Z' }],
  ] as const)('from %s to %s', (from, to, range) => {
    expect(auditTimeRange(from, to)).toEqual(range);
  });

  it.each([
    ['2026-02-30', undefined, 'from'],
    [undefined, 'yesterday', 'to'],
    ['2026-11-26T10:00:00', undefined, 'from'],
  ] as const)('refuses from %s to %s, naming %s', (from, to, param) => {
    expect(auditTimeRange(from, to)).toEqual({ param, message: expect.stringContaining(param) });
  });
});

describe('tenant keys can carry a previous hash for a grace period', () => {
  it('stores it, at most once across keys', async () => {
    const tenantId = await newTenant();
    const insert = (id: string, hash: string, previous: string) =>
      db
        .prepare(
          `INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, previous_key_hash, previous_expires_at, created_at, updated_at)
           VALUES (?, ?, 'k', ?, 'igk_x', ?, ?, ?, ?)`,
        )
        .bind(id, tenantId, hash, previous, iso(T0 + 60_000), iso(T0), iso(T0))
        .run();
    const previous = unique('hash');
    await insert(unique('key'), unique('hash'), previous);
    await expect(insert(unique('key'), unique('hash'), previous)).rejects.toThrow(/UNIQUE/);
  });
});
