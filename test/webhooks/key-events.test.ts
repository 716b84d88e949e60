import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, unique, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { createTenantWithKey } from '../helpers/tenants';
import { as, newPrincipal } from '../admins/http-support';
import { eventsOf, recordingQueue, tenantEndpoint } from './outbox-rows';

/** The audit entries of one key, oldest first. */
interface Entry {
  action: string;
  actor: Record<string, unknown>;
  after: Record<string, unknown> | null;
}
async function auditOfKey(keyId: string): Promise<Entry[]> {
  const r = await call('GET', `/admin/audit?target_id=${keyId}`, { admin: true });
  return (r.json().entries as Entry[]).reverse();
}

describe('key.created, key.revoked, key.rotated (docs/webhooks.md)', () => {
  it('each admin action records one event, with the actor its audit entry names, and hands it to the queue', async () => {
    const { tenantId } = await createTenantWithKey();
    const endpoint = await tenantEndpoint(tenantId);
    const { queue, sent } = recordingQueue();
    const e = { ...env, WEBHOOK_QUEUE: queue } as TestEnv;
    const name = unique('events-key');
    const created = await call('POST', `/admin/tenants/${tenantId}/keys`, { admin: true, env: e, json: { name } });
    expect(created.status).toBe(201);
    const keyId = created.json().id as string;
    const rotated = await call('POST', `/admin/keys/${keyId}/rotate`, { admin: true, env: e });
    expect(rotated.status).toBe(200);
    expect((await call('DELETE', `/admin/keys/${keyId}`, { admin: true, env: e })).status).toBe(204);

    const rows = (await eventsOf(tenantId)).filter((r) => r.data.key_id === keyId);
    const audit = await auditOfKey(keyId);
    expect(audit.map((a) => a.action)).toEqual(['key.create', 'key.rotate', 'key.revoke']);
    expect(rows.map((r) => r.type)).toEqual(['key.created', 'key.rotated', 'key.revoked']);
    expect(rows.map((r) => r.data)).toEqual([
      { tenant_id: tenantId, key_id: keyId, name, prefix: created.json().prefix, actor: audit[0]?.actor },
      { tenant_id: tenantId, key_id: keyId, name, prefix: rotated.json().prefix, actor: audit[1]?.actor },
      { tenant_id: tenantId, key_id: keyId, name, prefix: rotated.json().prefix, actor: audit[2]?.actor },
    ]);
    expect(audit[0]?.actor).toEqual({ type: 'admin_token', id: expect.any(String), name: expect.any(String), role: 'owner' });
    for (const row of rows) {
      expect(row.id).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(row.once_key).toBeNull();
      expect(row.enqueued_at).not.toBeNull();
    }
    expect(sent.filter((m) => m.webhookId === endpoint).map((m) => m.eventId)).toEqual(rows.map((r) => r.id));
  });

  it('a tenant admin is the actor of the key it creates, and may set that key\'s alert thresholds', async () => {
    const { tenantId } = await createTenantWithKey();
    const lead = await newPrincipal('tenant_admin', tenantId);
    const created = await as(lead.token, 'POST', `/admin/tenants/${tenantId}/keys`, { json: { name: unique('lead-key'), alert_thresholds: [90, 75] } });
    expect(created.status, created.text()).toBe(201);
    expect(created.json().alert_thresholds).toEqual([75, 90]);
    const keyId = created.json().id as string;
    const patched = await as(lead.token, 'PATCH', `/admin/keys/${keyId}`, { json: { alert_thresholds: [10] } });
    expect(patched.json().alert_thresholds).toEqual([10]);
    const [row] = (await eventsOf(tenantId, 'key.created')).filter((r) => r.data.key_id === keyId);
    expect(row?.data.actor).toMatchObject({ type: 'admin', id: lead.id, role: 'tenant_admin' });
    const audit = await auditOfKey(keyId);
    expect(row?.data.actor).toEqual(audit[0]?.actor);
    // the audit entries show the thresholds as stored
    expect(audit.map((a) => a.after?.alert_thresholds)).toEqual([[75, 90], [10]]);
  });

  it('a second revoke, and a rotation of a revoked key, record no event', async () => {
    const { tenantId, keyId } = await createTenantWithKey();
    expect((await call('DELETE', `/admin/keys/${keyId}`, { admin: true })).status).toBe(204);
    expect((await call('DELETE', `/admin/keys/${keyId}`, { admin: true })).status).toBe(204);
    expectError(await call('POST', `/admin/keys/${keyId}/rotate`, { admin: true }), 404, 'not_found');
    expect((await eventsOf(tenantId)).map((r) => r.type)).toEqual(['key.created', 'key.revoked']);
  });

  it('a change that is not a key event (a rename) records none', async () => {
    const { tenantId, keyId } = await createTenantWithKey();
    expect((await call('PATCH', `/admin/keys/${keyId}`, { admin: true, json: { name: unique('renamed') } })).status).toBe(200);
    expect((await eventsOf(tenantId)).map((r) => r.type)).toEqual(['key.created']);
  });
});

describe('alert_thresholds on tenants and keys (docs/admin.md)', () => {
  it('defaults to [50, 80, 100], and is stored deduplicated, smallest first', async () => {
    const { tenantId, keyId } = await createTenantWithKey({ tenant: { alert_thresholds: [100, 50, 50] } });
    expect((await call('GET', `/admin/tenants/${tenantId}`, { admin: true })).json()).toMatchObject({
      alert_thresholds: [50, 100],
      keys: [{ id: keyId, alert_thresholds: [50, 80, 100] }],
    });
    const patched = await call('PATCH', `/admin/tenants/${tenantId}`, { admin: true, json: { alert_thresholds: [] } });
    expect(patched.json().alert_thresholds).toEqual([]);
  });

  const bad: [string, unknown][] = [
    ['zero', [0]],
    ['above 100', [101]],
    ['a fraction', [50.5]],
    ['a string percent', ['50']],
    ['not a list', 50],
    ['null', null],
    ['more than 10', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
  ];
  for (const [label, value] of bad) {
    it(`refuses ${label} with a 400 naming alert_thresholds, on every route that takes it, changing nothing`, async () => {
      const t = await createTenantWithKey();
      const json = { alert_thresholds: value };
      const answers = [
        await call('POST', '/admin/tenants', { admin: true, json: { name: unique('t'), ...json } }),
        await call('PATCH', `/admin/tenants/${t.tenantId}`, { admin: true, json }),
        await call('POST', `/admin/tenants/${t.tenantId}/keys`, { admin: true, json: { name: unique('k'), ...json } }),
        await call('PATCH', `/admin/keys/${t.keyId}`, { admin: true, json }),
      ];
      for (const r of answers) expectError(r, 400, 'invalid_request', { param: 'alert_thresholds' });
      const after = (await call('GET', `/admin/tenants/${t.tenantId}`, { admin: true })).json();
      expect(after.alert_thresholds).toEqual([50, 80, 100]);
      expect(after.keys).toHaveLength(1);
      expect(after.keys[0].alert_thresholds).toEqual([50, 80, 100]);
      expect(after.usage.spent_usd).toBe('0');
    });
  }
});
