import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { NewWebhookAnswer, WebhookAnswer, WebhookDeliveriesAnswer, WebhookListAnswer, WebhookTestAnswer } from '../../src/schemas/answers';
import { call, type CallResult, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';
import { as, newPrincipal, type Principal } from '../admins/http-support';
import { createHook, devEnv, receiverUrl, runQueueHandler, verified, waitForDeliveries } from './delivery-support';

/* docs/webhooks.md, "Endpoints": the admin API, its checks, who may call it, and where the secret shows. */

const SECRET_SHAPE = /^whsec_[A-Za-z0-9+/]{43}=$/;
const PUBLIC_URL = 'https://hooks.example.com/imagegate';
/** Production: no loopback flag. */
const prodEnv = { ...env, WEBHOOK_ALLOW_LOOPBACK: undefined } as TestEnv;

async function listIds(query = ''): Promise<string[]> {
  const r = await call('GET', `/admin/webhooks${query}`, { admin: true });
  expect(r.status).toBe(200);
  return (r.json().data as { id: string }[]).map((w) => w.id);
}

async function auditOf(targetId: string): Promise<{ action: string; before: unknown; after: unknown }[]> {
  const r = await call('GET', `/admin/audit?target_id=${targetId}`, { admin: true });
  expect(r.status).toBe(200);
  return r.json().entries;
}

function expectNoSecret(r: CallResult, secret: string): void {
  expect(r.text()).not.toContain(secret);
  expect(r.text()).not.toContain('whsec_');
  expect(r.text()).not.toContain('"secret"');
}

let tenant: TenantKey;
let other: TenantKey;
let viewer: Principal;
let tenantAdmin: Principal;
beforeAll(async () => {
  [tenant, other] = [await createTenantWithKey(), await createTenantWithKey()];
  viewer = await newPrincipal('viewer');
  tenantAdmin = await newPrincipal('tenant_admin', tenant.tenantId);
});

describe('creating an endpoint', () => {
  it('answers 201 with the secret once; reads, lists and the audit log never show it', async () => {
    const r = await call('POST', '/admin/webhooks', {
      admin: true,
      env: prodEnv,
      json: { url: PUBLIC_URL, events: ['budget.threshold', 'budget.refused'], tenant_id: tenant.tenantId, description: 'finance alerts' },
    });
    expect(r.status, r.text()).toBe(201);
    const created = NewWebhookAnswer.parse(r.json());
    expect(created).toMatchObject({ url: PUBLIC_URL, events: ['budget.threshold', 'budget.refused'], tenant_id: tenant.tenantId, description: 'finance alerts' });
    expect(created.id).toMatch(/^wh_/);
    expect(created.secret).toMatch(SECRET_SHAPE);

    const read = await call('GET', `/admin/webhooks/${created.id}`, { admin: true });
    WebhookAnswer.parse(read.json());
    expect(read.json()).toEqual({ id: created.id, url: PUBLIC_URL, events: created.events, tenant_id: tenant.tenantId, description: 'finance alerts', created_at: created.created_at });
    expectNoSecret(read, created.secret);
    const list = await call('GET', '/admin/webhooks', { admin: true });
    WebhookListAnswer.parse(list.json());
    expectNoSecret(list, created.secret);
    const viewed = await as(viewer.token, 'GET', `/admin/webhooks/${created.id}`);
    expect(viewed.status).toBe(200);
    expectNoSecret(viewed, created.secret);

    const entries = await auditOf(created.id);
    expect(entries.map((e) => e.action)).toEqual(['webhook.create']);
    expect(JSON.stringify(entries)).not.toContain(created.secret.slice(6));
    expect(entries[0]!.after).toMatchObject({ url: PUBLIC_URL, tenant_id: tenant.tenantId });
  });

  it("['*'] takes every type; repeated types are kept once; no tenant_id is every tenant's", async () => {
    const all = await call('POST', '/admin/webhooks', { admin: true, env: prodEnv, json: { url: PUBLIC_URL, events: ['*'] } });
    expect(all.status).toBe(201);
    expect(all.json()).toMatchObject({ events: ['*'], tenant_id: null, description: null });
    const twice = await call('POST', '/admin/webhooks', { admin: true, env: prodEnv, json: { url: PUBLIC_URL, events: ['key.created', 'key.created'], tenant_id: null } });
    expect(twice.json()).toMatchObject({ events: ['key.created'], tenant_id: null });
    await call('DELETE', `/admin/webhooks/${all.json().id}`, { admin: true });
    await call('DELETE', `/admin/webhooks/${twice.json().id}`, { admin: true });
  });

  const refused: [string, Record<string, unknown>, string][] = [
    ['http to a public host', { url: 'http://hooks.example.com/x' }, 'url'],
    ['a private address', { url: 'https://10.0.0.7/x' }, 'url'],
    ['the metadata address', { url: 'https://169.254.169.254/latest' }, 'url'],
    ['localhost without the loopback flag', { url: 'http://127.0.0.1:9999/x' }, 'url'],
    ['an internal name', { url: 'https://billing.internal/x' }, 'url'],
    ['credentials in the URL', { url: 'https://me:pw@hooks.example.com/x' }, 'url'],
    ['no URL', { url: undefined }, 'url'],
    ['an unknown event type', { events: ['budget.threshold', 'budget.exploded'] }, 'events'],
    ["'*' with other types", { events: ['*', 'key.created'] }, 'events'],
    ['no event types', { events: [] }, 'events'],
    ['a tenant that does not exist', { tenant_id: 'ten_nope' }, 'tenant_id'],
    ['a field of its own', { secret: 'whsec_mine' }, 'secret'],
    ['a description too long', { description: 'x'.repeat(501) }, 'description'],
  ];

  it.each(refused)('refuses %s: 400 naming the field, and records nothing', async (_label, fields, param) => {
    const before = await listIds();
    const r = await call('POST', '/admin/webhooks', { admin: true, env: prodEnv, json: { url: PUBLIC_URL, events: ['*'], ...fields } });
    expectError(r, 400, 'invalid_request', { param });
    expect(await listIds()).toEqual(before);
  });

  it('accepts a loopback receiver only where WEBHOOK_ALLOW_LOOPBACK=true', async () => {
    const json = { url: receiverUrl('loopback-flag'), events: ['webhook.test'] };
    expectError(await call('POST', '/admin/webhooks', { admin: true, env: prodEnv, json }), 400, 'invalid_request', { param: 'url' });
    const r = await call('POST', '/admin/webhooks', { admin: true, env: devEnv, json });
    expect(r.status).toBe(201);
    await call('DELETE', `/admin/webhooks/${r.json().id}`, { admin: true });
  });
});

describe('roles', () => {
  it('a viewer reads endpoints but may not create, delete, rotate or test one (403, nothing changes)', async () => {
    const hook = await createHook({ tenant_id: tenant.tenantId });
    const before = await listIds();
    const json = { url: PUBLIC_URL, events: ['*'] };
    expectError(await as(viewer.token, 'POST', '/admin/webhooks', { json }), 403, 'forbidden');
    expectError(await as(viewer.token, 'DELETE', `/admin/webhooks/${hook.id}`), 403, 'forbidden');
    expectError(await as(viewer.token, 'POST', `/admin/webhooks/${hook.id}/rotate-secret`), 403, 'forbidden');
    expectError(await as(viewer.token, 'POST', `/admin/webhooks/${hook.id}/test`), 403, 'forbidden');
    expect(await listIds()).toEqual(before);
    expect((await as(viewer.token, 'GET', `/admin/webhooks/${hook.id}/deliveries`)).status).toBe(200);
    expect((await auditOf(hook.id)).map((e) => e.action)).toEqual(['webhook.create']);
  });

  it("a tenant admin's endpoint is its own tenant's, asked or not; another tenant is 404, every tenant 403", async () => {
    const json = { url: PUBLIC_URL, events: ['budget.threshold'] };
    const own = await as(tenantAdmin.token, 'POST', '/admin/webhooks', { env: prodEnv, json });
    expect(own.status, own.text()).toBe(201);
    expect(own.json().tenant_id).toBe(tenant.tenantId);
    expect(own.json().secret).toMatch(SECRET_SHAPE);
    const named = await as(tenantAdmin.token, 'POST', '/admin/webhooks', { env: prodEnv, json: { ...json, tenant_id: tenant.tenantId } });
    expect(named.status).toBe(201);
    const before = await listIds();
    expectError(await as(tenantAdmin.token, 'POST', '/admin/webhooks', { env: prodEnv, json: { ...json, tenant_id: other.tenantId } }), 404, 'not_found');
    expectError(await as(tenantAdmin.token, 'POST', '/admin/webhooks', { env: prodEnv, json: { ...json, tenant_id: null } }), 403, 'forbidden');
    expect(await listIds()).toEqual(before);
  });

  it("a tenant admin lists, reads, tests and deletes its tenant's endpoints only: global and foreign ones are 404", async () => {
    const mine = await createHook({ tenant_id: tenant.tenantId });
    const foreign = await createHook({ tenant_id: other.tenantId });
    const global = await createHook();
    const list = await as(tenantAdmin.token, 'GET', '/admin/webhooks');
    const ids = (list.json().data as { id: string; tenant_id: string }[]).map((w) => w.id);
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(foreign.id);
    expect(ids).not.toContain(global.id);
    expect((list.json().data as { tenant_id: string }[]).every((w) => w.tenant_id === tenant.tenantId)).toBe(true);
    expectError(await as(tenantAdmin.token, 'GET', `/admin/webhooks?tenant_id=${other.tenantId}`), 404, 'not_found');

    for (const id of [foreign.id, global.id]) {
      expectError(await as(tenantAdmin.token, 'GET', `/admin/webhooks/${id}`), 404, 'not_found');
      expectError(await as(tenantAdmin.token, 'GET', `/admin/webhooks/${id}/deliveries`), 404, 'not_found');
      expectError(await as(tenantAdmin.token, 'POST', `/admin/webhooks/${id}/test`), 404, 'not_found');
      expectError(await as(tenantAdmin.token, 'POST', `/admin/webhooks/${id}/rotate-secret`), 404, 'not_found');
      expectError(await as(tenantAdmin.token, 'DELETE', `/admin/webhooks/${id}`), 404, 'not_found');
    }
    expect((await auditOf(foreign.id)).map((e) => e.action)).toEqual(['webhook.create']);
    expect((await as(tenantAdmin.token, 'POST', `/admin/webhooks/${mine.id}/test`)).status).toBe(202);
    expect((await waitForDeliveries(mine.name, 1)).length).toBe(1);
    expect((await as(tenantAdmin.token, 'DELETE', `/admin/webhooks/${mine.id}`)).status).toBe(204);
  });
});

describe('an endpoint over its life', () => {
  it('rotating the secret answers a new one once; deliveries are signed with it, not the old one', async () => {
    const hook = await createHook();
    const r = await call('POST', `/admin/webhooks/${hook.id}/rotate-secret`, { admin: true });
    expect(r.status).toBe(200);
    const rotated = NewWebhookAnswer.parse(r.json());
    expect(rotated.secret).toMatch(SECRET_SHAPE);
    expect(rotated.secret).not.toBe(hook.secret);
    expectNoSecret(await call('GET', `/admin/webhooks/${hook.id}`, { admin: true }), rotated.secret);
    const entries = await auditOf(hook.id);
    expect(entries.map((e) => e.action)).toEqual(['webhook.rotate_secret', 'webhook.create']);
    expect(JSON.stringify(entries)).not.toMatch(/whsec_/);

    const test = await call('POST', `/admin/webhooks/${hook.id}/test`, { admin: true });
    expect(test.status).toBe(202);
    WebhookTestAnswer.parse(test.json());
    const [delivery] = await waitForDeliveries(hook.name, 1);
    verified(delivery!, rotated.secret);
    expect(() => verified(delivery!, hook.secret)).toThrow();
  });

  it('the test event is audited, and the delivery log lists its attempt newest first, limit applied', async () => {
    const hook = await createHook();
    for (let i = 0; i < 2; i++) expect((await call('POST', `/admin/webhooks/${hook.id}/test`, { admin: true })).status).toBe(202);
    await waitForDeliveries(hook.name, 2);
    let deliveries: { at: string }[] = [];
    for (let i = 0; i < 100 && deliveries.length < 2; i++) {
      deliveries = (await call('GET', `/admin/webhooks/${hook.id}/deliveries`, { admin: true })).json().deliveries;
      await new Promise((r) => setTimeout(r, 50));
    }
    const all = await call('GET', `/admin/webhooks/${hook.id}/deliveries`, { admin: true });
    const parsed = WebhookDeliveriesAnswer.parse(all.json()).deliveries;
    expect(parsed).toHaveLength(2);
    expect(parsed.every((d) => d.type === 'webhook.test' && d.ok && d.attempt === 1 && d.response_status === 200)).toBe(true);
    expect(parsed[0]!.at >= parsed[1]!.at).toBe(true);
    expect((await call('GET', `/admin/webhooks/${hook.id}/deliveries?limit=1`, { admin: true })).json().deliveries).toHaveLength(1);
    expectError(await call('GET', `/admin/webhooks/${hook.id}/deliveries?limit=0`, { admin: true }), 400, 'invalid_request', { param: 'limit' });
    expectError(await call('GET', `/admin/webhooks/${hook.id}/deliveries?limit=201`, { admin: true }), 400, 'invalid_request', { param: 'limit' });
    expect((await auditOf(hook.id)).map((e) => e.action)).toEqual(['webhook.test', 'webhook.test', 'webhook.create']);
  });

  it('a deleted endpoint is gone from reads and lists, gets no test, and its queued deliveries stop', async () => {
    const hook = await createHook();
    const event = (await call('POST', `/admin/webhooks/${hook.id}/test`, { admin: true })).json().event_id as string;
    await waitForDeliveries(hook.name, 1);
    expect((await call('DELETE', `/admin/webhooks/${hook.id}`, { admin: true })).status).toBe(204);
    expect(await listIds()).not.toContain(hook.id);
    for (const [method, suffix] of [['GET', ''], ['DELETE', ''], ['POST', '/test'], ['POST', '/rotate-secret'], ['GET', '/deliveries']] as const) {
      expectError(await call(method, `/admin/webhooks/${hook.id}${suffix}`, { admin: true }), 404, 'not_found');
    }
    const retried = await runQueueHandler([[{ eventId: event, webhookId: hook.id }, 2]]);
    expect(retried.explicitAcks).toHaveLength(1);
    expect((await waitForDeliveries(hook.name, 1)).length).toBe(1);
    expect((await auditOf(hook.id)).map((e) => e.action)).toEqual(['webhook.delete', 'webhook.test', 'webhook.create']);
  });

  it('an id that names no endpoint is 404 on every route', async () => {
    for (const [method, suffix] of [['GET', ''], ['DELETE', ''], ['POST', '/test'], ['POST', '/rotate-secret'], ['GET', '/deliveries']] as const) {
      expectError(await call(method, `/admin/webhooks/wh_nothing${suffix}`, { admin: true }), 404, 'not_found');
    }
  });
});
