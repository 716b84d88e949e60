import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { call, unique } from '../helpers/api';
import { devEnv, receiverUrl } from '../webhooks/delivery-support';
import { castOfRoles, changingForms, lastAudit, page, signIn, type RoleCast } from './support';

/* docs/console.md, the webhooks page: every change through the admin API, with its roles and audit. */

let cast: RoleCast;
beforeAll(async () => {
  cast = await castOfRoles();
});

const countWebhooks = async () => (await env.DB.prepare('SELECT COUNT(*) AS n FROM webhooks').first<{ n: number }>())?.n ?? 0;
const secretIn = (html: string) => /<code id="new-secret">(whsec_[^<]+)<\/code>/.exec(html)?.[1];
const endpointIdIn = (html: string) => /\/console\/webhooks\/(wh_[0-9A-Za-z_-]+)\/test/.exec(html)?.[1];

function createForm(url: string, events: string[], tenant?: string): [string, string][] {
  return [['url', url], ...events.map((e): [string, string] => ['events', e]), ['description', 'from the console'], ...(tenant ? [['tenant_id', tenant] as [string, string]] : [])];
}

describe('the webhooks page', () => {
  it('an admin adds an endpoint: the secret shown once with a copy button, the audit actor the principal, then a test event shows as a delivery', async () => {
    const cookie = await signIn(cast.admin.token);
    const empty = await page('GET', '/console/webhooks', { cookie });
    expect(empty.status).toBe(200);
    expect(empty.html).toContain('name="events" value="budget.threshold"');

    const hook = unique('console-hook');
    const created = await page('POST', '/console/webhooks', { cookie, env: devEnv, form: createForm(receiverUrl(hook), ['budget.threshold', 'webhook.test'], cast.own.tenantId) });
    expect(created.status).toBe(200);
    const secret = secretIn(created.html);
    expect(secret).toMatch(/^whsec_/);
    expect(created.html).toContain('data-copy="new-secret"');
    const id = endpointIdIn(created.html) ?? '';
    const stored = (await call('GET', `/admin/webhooks/${id}`, { admin: true })).json();
    expect(stored).toMatchObject({ url: receiverUrl(hook), events: ['budget.threshold', 'webhook.test'], tenant_id: cast.own.tenantId, description: 'from the console' });
    expect(await lastAudit('webhook.create')).toMatchObject({ actor_id: cast.admin.id, actor_role: 'admin', target_id: id });
    // shown once: neither the endpoint's page nor the list shows it again
    expect((await page('GET', `/console/webhooks/${id}`, { cookie })).html).not.toContain(secret ?? 'x');
    const list = await page('GET', '/console/webhooks', { cookie });
    expect(list.html).not.toContain(secret ?? 'x');
    expect(list.html).toContain(receiverUrl(hook));

    const tested = await page('POST', `/console/webhooks/${id}/test`, { cookie, env: devEnv });
    expect(tested.status).toBe(303);
    expect(await lastAudit('webhook.test')).toMatchObject({ actor_id: cast.admin.id, target_id: id });
    // the queue delivers in the background; the endpoint's page lists the attempt once it is recorded
    await vi.waitFor(
      async () => {
        const shown = await page('GET', `/console/webhooks/${id}`, { cookie });
        expect(shown.html).toMatch(/<code>webhook\.test<\/code>[\s\S]*<td class="num">200<\/td>[\s\S]*<span class="badge">ok<\/span>/);
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it('"all" sends every type; rotating shows a new secret once; delete ends the endpoint', async () => {
    const cookie = await signIn(cast.admin.token);
    const created = await page('POST', '/console/webhooks', { cookie, env: devEnv, form: createForm(receiverUrl(unique('all')), ['*', 'key.created']) });
    const id = endpointIdIn(created.html) ?? '';
    const first = secretIn(created.html);
    expect((await call('GET', `/admin/webhooks/${id}`, { admin: true })).json()).toMatchObject({ events: ['*'], tenant_id: null });

    const rotated = await page('POST', `/console/webhooks/${id}/rotate`, { cookie });
    expect(rotated.status).toBe(200);
    const second = secretIn(rotated.html);
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    expect(await lastAudit('webhook.rotate_secret')).toMatchObject({ actor_id: cast.admin.id, target_id: id });

    const deleted = await page('POST', `/console/webhooks/${id}/delete`, { cookie });
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get('location')).toBe('/console/webhooks?done=deleted');
    expect((await call('GET', `/admin/webhooks/${id}`, { admin: true })).status).toBe(404);
    expect(await lastAudit('webhook.delete')).toMatchObject({ actor_id: cast.admin.id, target_id: id });
  });

  it("the admin API's refusal comes back on the form, naming the field, and nothing is created", async () => {
    const cookie = await signIn(cast.admin.token);
    const before = await countWebhooks();
    const noEvents = await page('POST', '/console/webhooks', { cookie, env: devEnv, form: createForm(receiverUrl(unique('none')), []) });
    expect(noEvents.status).toBe(400);
    expect(noEvents.html).toContain('role="alert"');
    expect(noEvents.html).toContain('<code>events</code>');
    const plainHttp = await page('POST', '/console/webhooks', { cookie, form: createForm('http://hooks.example.com/x', ['*']) });
    expect(plainHttp.status).toBe(400);
    expect(plainHttp.html).toContain('<code>url</code>');
    expect(await countWebhooks()).toBe(before);
  });

  it('a foreign Origin is refused with 403 and nothing is created', async () => {
    const cookie = await signIn(cast.admin.token);
    const before = await countWebhooks();
    const r = await page('POST', '/console/webhooks', { cookie, env: devEnv, origin: 'https://evil.example', form: createForm(receiverUrl(unique('evil')), ['*']) });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.html).error.code).toBe('forbidden');
    expect(await countWebhooks()).toBe(before);
  });

  it("a viewer sees endpoints and deliveries but no control; a POST anyway is the admin API's 403", async () => {
    const made = await call('POST', '/admin/webhooks', { admin: true, env: devEnv, json: { url: receiverUrl(unique('seen')), events: ['*'] } });
    const cookie = await signIn(cast.viewer.token);
    const list = await page('GET', '/console/webhooks', { cookie });
    expect(list.status).toBe(200);
    expect(list.html).toContain(made.json().url);
    expect(changingForms(list.html)).toEqual([]);
    const endpoint = await page('GET', `/console/webhooks/${made.json().id}`, { cookie });
    expect(endpoint.status).toBe(200);
    expect(endpoint.html).toContain('Deliveries');
    expect(changingForms(endpoint.html)).toEqual([]);
    const before = await countWebhooks();
    const refused = await page('POST', '/console/webhooks', { cookie, env: devEnv, form: createForm(receiverUrl(unique('v')), ['*']) });
    expect(refused.status).toBe(403);
    expect((await page('POST', `/console/webhooks/${made.json().id}/delete`, { cookie })).status).toBe(403);
    expect(await countWebhooks()).toBe(before);
  });

  it("a tenant admin sees only its tenant's endpoints, and adds one for its own tenant, fixed", async () => {
    const theirs = await call('POST', '/admin/webhooks', { admin: true, env: devEnv, json: { url: receiverUrl(unique('theirs')), events: ['*'], tenant_id: cast.other.tenantId } });
    const cookie = await signIn(cast.tenantAdmin.token);
    const list = await page('GET', '/console/webhooks', { cookie });
    expect(list.status).toBe(200);
    expect(list.html).not.toContain(theirs.json().url);
    expect(list.html).toContain(`<input type="hidden" name="tenant_id" value="${cast.own.tenantId}"/>`);
    expect(list.html).not.toContain('every tenant</option>');
    expect((await page('GET', `/console/webhooks/${theirs.json().id}`, { cookie })).status).toBe(404);
    expect((await page('POST', `/console/webhooks/${theirs.json().id}/delete`, { cookie })).status).toBe(404);

    const url = receiverUrl(unique('mine'));
    const created = await page('POST', '/console/webhooks', { cookie, env: devEnv, form: createForm(url, ['budget.refused'], cast.own.tenantId) });
    expect(created.status).toBe(200);
    const id = endpointIdIn(created.html) ?? '';
    expect((await call('GET', `/admin/webhooks/${id}`, { admin: true })).json()).toMatchObject({ tenant_id: cast.own.tenantId });
    expect(await lastAudit('webhook.create')).toMatchObject({ actor_id: cast.tenantAdmin.id, actor_role: 'tenant_admin' });
    // naming another tenant is the admin API's 404, and nothing is created
    const before = await countWebhooks();
    const foreign = await page('POST', '/console/webhooks', { cookie, env: devEnv, form: createForm(url, ['*'], cast.other.tenantId) });
    expect(foreign.status).toBe(404);
    expect(await countWebhooks()).toBe(before);
  });
});
