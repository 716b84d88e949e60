import { describe, expect, it } from 'vitest';
import { appWithClock, call, type CallResult } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { createTenantWithKey } from '../helpers/tenants';
import { newPrincipal } from './http-support';

/* docs/admin.md: rotation with a grace period, on a fixed clock. */

const T0 = Date.parse('2026-12-03T10:00:00.000Z');
const GRACE = 3_600;

function clocked() {
  let now = T0;
  const app = appWithClock(() => now);
  return { app, at: (ms: number) => (now = ms) };
}

/**
 * A rotation answered at T0 with GRACE: its `previous_expires_at` is the grace's end, the old
 * credential reads until then and is refused from half a second after (an isolate that cached the
 * old lookup still stops it there), and the fresh one reads throughout.
 */
async function expectGraceWindow(options: {
  rotated: CallResult;
  at: (ms: number) => void;
  read: (credential: string) => Promise<CallResult>;
  old: string;
  fresh: string;
}): Promise<void> {
  const { rotated, at, read, old, fresh } = options;
  const end = T0 + GRACE * 1000;
  expect(rotated.json().previous_expires_at).toBe(new Date(end).toISOString());
  for (const [ms, oldStatus] of [
    [T0, 200],
    [end - 1_000, 200],
    [end - 500, 200],
    [end + 500, 401],
    [end + 1_000, 401],
  ] as const) {
    at(ms);
    const r = await read(old);
    if (oldStatus === 200) expect(r.status, `${ms - end} ms: ${r.text()}`).toBe(200);
    else expectError(r, 401, 'unauthorized');
    expect((await read(fresh)).status).toBe(200);
  }
}

describe('a tenant key rotated with a grace period', () => {
  it('old and new both work until the grace ends (grace − 1 s), then only the new (grace + 1 s)', async () => {
    const { app, at } = clocked();
    const t = await createTenantWithKey();
    const r = await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, app, json: { grace_seconds: GRACE } });
    expect(r.status, r.text()).toBe(200);
    const read = (key: string) => call('GET', '/v1/usage', { key, app });
    await expectGraceWindow({ rotated: r, at, read, old: t.key, fresh: r.json().key });
  });

  it('without a body, or with grace_seconds 0, the old key stops at once and previous_expires_at is null', async () => {
    for (const json of [undefined, { grace_seconds: 0 }]) {
      const { app } = clocked();
      const t = await createTenantWithKey();
      const r = await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, app, ...(json ? { json } : {}) });
      expect(r.status, r.text()).toBe(200);
      expect(r.json().previous_expires_at).toBeNull();
      expectError(await call('GET', '/v1/usage', { key: t.key, app }), 401, 'unauthorized');
      expect((await call('GET', '/v1/usage', { key: r.json().key, app })).status).toBe(200);
    }
  });

  it('a revocation inside the grace ends old and new at once', async () => {
    const { app, at } = clocked();
    const t = await createTenantWithKey();
    const fresh = (await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, app, json: { grace_seconds: GRACE } })).json().key;
    expect((await call('GET', '/v1/usage', { key: t.key, app })).status).toBe(200);
    at(T0 + 10_000);
    expect((await call('DELETE', `/admin/keys/${t.keyId}`, { admin: true, app })).status).toBe(204);
    expectError(await call('GET', '/v1/usage', { key: t.key, app }), 401, 'unauthorized');
    expectError(await call('GET', '/v1/usage', { key: fresh, app }), 401, 'unauthorized');
  });

  it('a second rotation ends the first one\'s grace: one previous key at a time', async () => {
    const { app } = clocked();
    const t = await createTenantWithKey();
    const first = (await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, app, json: { grace_seconds: GRACE } })).json().key;
    const second = await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, app, json: { grace_seconds: GRACE } });
    expectError(await call('GET', '/v1/usage', { key: t.key, app }), 401, 'unauthorized');
    expect((await call('GET', '/v1/usage', { key: first, app })).status).toBe(200);
    expect((await call('GET', '/v1/usage', { key: second.json().key, app })).status).toBe(200);
  });

  it('grace_seconds outside 0–604800, or not an integer, is a 400 naming it and rotates nothing', async () => {
    const t = await createTenantWithKey();
    for (const grace of [-1, 604_801, 1.5, '60']) {
      expectError(await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, json: { grace_seconds: grace } }), 400, 'invalid_request', {
        param: 'grace_seconds',
      });
    }
    expectError(await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, json: { grace: 60 } }), 400, 'invalid_request', { param: 'grace' });
    expect((await call('GET', '/v1/usage', { key: t.key })).status).toBe(200);
    expect((await call('POST', `/admin/keys/${t.keyId}/rotate`, { admin: true, json: { grace_seconds: 604_800 } })).status).toBe(200);
  });
});

describe('an admin token rotated with a grace period', () => {
  it('old and new both work until the grace ends (grace − 1 s), then only the new (grace + 1 s)', async () => {
    const { app, at } = clocked();
    const p = await newPrincipal('viewer');
    const r = await call('POST', `/admin/admins/${p.id}/rotate`, { admin: true, app, json: { grace_seconds: GRACE } });
    expect(r.status, r.text()).toBe(200);
    const fresh = r.json().token as string;
    expect(fresh).toMatch(/^iga_[0-9A-Za-z]{40}$/);
    const read = (token: string) => call('GET', '/admin/tenants', { app, headers: { authorization: `Bearer ${token}` } });
    await expectGraceWindow({ rotated: r, at, read, old: p.token, fresh });
  });

  it('a revocation inside the grace ends old and new at once; a revoked principal cannot be rotated', async () => {
    const { app } = clocked();
    const p = await newPrincipal('admin');
    const fresh = (await call('POST', `/admin/admins/${p.id}/rotate`, { admin: true, app, json: { grace_seconds: GRACE } })).json().token;
    const read = (token: string) => call('GET', '/admin/tenants', { app, headers: { authorization: `Bearer ${token}` } });
    expect((await read(p.token)).status).toBe(200);
    expect((await call('DELETE', `/admin/admins/${p.id}`, { admin: true, app })).status).toBe(204);
    expectError(await read(p.token), 401, 'unauthorized');
    expectError(await read(fresh), 401, 'unauthorized');
    expectError(await call('POST', `/admin/admins/${p.id}/rotate`, { admin: true, app }), 404, 'not_found');
    expect((await call('GET', `/admin/admins/${p.id}`, { admin: true })).json().revoked_at).toBe(new Date(T0).toISOString());
  });
});
