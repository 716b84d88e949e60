import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, unique } from '../helpers/api';
import { customPriceRow } from '../helpers/models';
import { newPrincipal, type Principal } from '../admins/http-support';
import { changingForms, page, signIn } from './support';

/* docs/console.md, the models page: owner and admin add a price version with a form; a viewer has none. */

let admin: Principal;
let viewer: Principal;
let model: string;
beforeAll(async () => {
  [admin, viewer] = await Promise.all([newPrincipal('admin'), newPrincipal('viewer')]);
  model = unique('vendor/console-model');
  const put = await call('PUT', `/admin/models/${encodeURIComponent(model)}`, { admin: true, json: customPriceRow() });
  expect(put.status).toBe(201);
});

const modelPath = () => `/admin/models/${encodeURIComponent(model)}`;
const versions = async () => (await call('GET', `${modelPath()}/prices`, { admin: true })).json().versions as { version: number; effective_at: string; price_per_megapixel_usd: string }[];
const priceForm = (changes: Record<string, string> = {}) => ({
  model,
  price_per_megapixel_usd: '0.02',
  included_steps: '12',
  price_per_extra_step_usd: '0.002',
  effective_at: '2030-01-01T00:00',
  ...changes,
});

describe('the price form', () => {
  it('an admin schedules a new price: a version in force from the UTC time given, the limits kept, the audit actor the principal', async () => {
    const cookie = await signIn(admin.token);
    const shown = await page('GET', '/console/models', { cookie });
    expect(shown.status).toBe(200);
    expect(changingForms(shown.html)).toContain('/console/models/price');
    const before = await versions();
    const r = await page('POST', '/console/models/price', { cookie, form: priceForm() });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/console/models?done=priced');
    const after = await versions();
    expect(after).toHaveLength(before.length + 1);
    expect(after.at(-1)).toMatchObject({ effective_at: '2030-01-01T00:00:00.000Z', price_per_megapixel_usd: '0.02', included_steps: 12, price_per_extra_step_usd: '0.002' });
    // the price now is still the old one, and the limits are as they were
    expect((await call('GET', modelPath(), { admin: true })).json()).toMatchObject({ price_per_megapixel_usd: '0.01', width: { min: 64, max: 512, multiple_of: 64 }, steps: { min: 1, max: 20 } });
    const entry = await env.DB.prepare("SELECT actor_id, target_id FROM audit_log WHERE action = 'model.price_set' ORDER BY at DESC, id DESC LIMIT 1").first();
    expect(entry).toEqual({ actor_id: admin.id, target_id: model });
    expect((await page('GET', '/console/models?done=priced', { cookie })).html).toContain('2030-01-01 00:00 UTC');
  });

  it('empty "in force from" means now: the new price is the one in force', async () => {
    const cookie = await signIn(admin.token);
    expect((await page('POST', '/console/models/price', { cookie, form: priceForm({ effective_at: '', price_per_megapixel_usd: '0.015' }) })).status).toBe(303);
    expect((await call('GET', modelPath(), { admin: true })).json()).toMatchObject({ price_per_megapixel_usd: '0.015', included_steps: 12 });
  });

  it("a price the admin API refuses comes back on the page naming the field, and no version is added", async () => {
    const cookie = await signIn(admin.token);
    const before = await versions();
    const bad = await page('POST', '/console/models/price', { cookie, form: priceForm({ price_per_megapixel_usd: 'cheap' }) });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('role="alert"');
    expect(bad.html).toContain('<code>price_per_megapixel_usd</code>');
    const unknown = await page('POST', '/console/models/price', { cookie, form: priceForm({ model: unique('no-such-model') }) });
    expect(unknown.status).toBe(404);
    expect(await versions()).toEqual(before);
  });

  it('a viewer sees the versions but no form, and a POST anyway is refused with 403', async () => {
    const cookie = await signIn(viewer.token);
    const shown = await page('GET', '/console/models', { cookie });
    expect(shown.status).toBe(200);
    expect(shown.html).toContain(model);
    expect(changingForms(shown.html)).toEqual([]);
    const before = await versions();
    expect((await page('POST', '/console/models/price', { cookie, form: priceForm() })).status).toBe(403);
    expect(await versions()).toEqual(before);
  });

  it('a foreign Origin is refused with 403 and no version is added', async () => {
    const cookie = await signIn(admin.token);
    const before = await versions();
    const r = await page('POST', '/console/models/price', { cookie, origin: 'https://evil.example', form: priceForm() });
    expect(r.status).toBe(403);
    expect(await versions()).toEqual(before);
  });
});
