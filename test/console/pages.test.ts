import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, genBody, isPng, loopback, unique, type TestEnv } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';
import { page, signIn } from './support';

/* docs/console.md: what the pages show, from real generations. */

describe("a tenant's page", () => {
  it('shows its recent images through signed links, with prompt, seed, size, cost, cache word and time', async () => {
    const t = await createTenantWithKey();
    const { env: origin } = loopback('gallery');
    const prompt = unique('a lighthouse <in> "storm"');
    const first = await call('POST', '/image/generation', { key: t.key, json: genBody('x', { positive_prompt: prompt, seed: 42 }), env: origin });
    expect(first.status).toBe(200);
    expect((await call('POST', '/image/generation', { key: t.key, json: genBody('x', { positive_prompt: prompt, seed: 42 }), env: origin })).status).toBe(200);
    const cookie = await signIn();
    const r = await page('GET', `/console/tenants/${t.tenantId}`, { cookie });
    expect(r.status).toBe(200);
    const sources = [...r.html.matchAll(/<img src="([^"]+)"/g)].map((m) => (m[1] ?? '').replace(/&amp;/g, '&'));
    expect(sources).toHaveLength(2);
    // the prompt is escaped, never markup
    expect(r.html).toContain('a lighthouse &lt;in&gt; &quot;storm&quot;');
    expect(r.html).toContain('seed 42 · 256×256 · 30 steps');
    expect(r.html).toContain('cache hit');
    expect(r.html).toContain('generated');
    expect(r.html).toMatch(/0\.\d+ USD · generated/);
    for (const src of sources) {
      expect(src).toMatch(/^\/v1\/images\/img_[0-9A-Za-z]+\?/);
      const image = await call('GET', src);
      expect(image.status).toBe(200);
      expect(isPng(image.bytes)).toBe(true);
    }
  });

  it('without IMAGE_URL_SECRET it says thumbnails need it and shows no broken image', async () => {
    const t = await createTenantWithKey();
    const { env: origin } = loopback('gallery-unsigned');
    expect((await call('POST', '/image/generation', { key: t.key, json: genBody(unique('u')), env: origin })).status).toBe(200);
    const cookie = await signIn();
    const r = await page('GET', `/console/tenants/${t.tenantId}`, { cookie, env: { ...env, IMAGE_URL_SECRET: '' } as TestEnv });
    expect(r.status).toBe(200);
    expect(r.html).toContain('Thumbnails need IMAGE_URL_SECRET');
    expect(r.html).not.toContain('<img');
    expect(r.html).toContain('no signed link');
  });

  it('empty states say what to do next', async () => {
    const t = await createTenantWithKey();
    const cookie = await signIn();
    const r = await page('GET', `/console/tenants/${t.tenantId}`, { cookie });
    expect(r.html).toContain('No images yet — generate one');
    expect(r.html).toContain('No tagged generations yet');
  });

  it('usage by tag groups the generations by the chosen tag', async () => {
    const t = await createTenantWithKey();
    const { env: origin } = loopback('tags');
    for (const project of ['checkout', 'checkout', 'search']) {
      const r = await call('POST', '/image/generation', { key: t.key, json: genBody(unique('t')), headers: { 'Imagegate-Tags': `project=${project}` }, env: origin });
      expect(r.status).toBe(200);
    }
    const cookie = await signIn();
    const r = await page('GET', `/console/tenants/${t.tenantId}?tag=project`, { cookie });
    expect(r.html).toMatch(/<th scope="row">checkout<\/th><td class="num">2<\/td>/);
    expect(r.html).toMatch(/<th scope="row">search<\/th><td class="num">1<\/td>/);
    expect(r.html).toContain('group_by=tag%3Aproject');
  });
});

describe('the overview, the models and the audit log', () => {
  it('the overview counts this period’s requests, hits and saved USD of each tenant', async () => {
    const t = await createTenantWithKey({ tenant: { name: unique('overview'), budget_usd: '5' } });
    const { env: origin } = loopback('overview');
    const body = genBody(unique('o'), { seed: 7 });
    for (let i = 0; i < 2; i++) expect((await call('POST', '/image/generation', { key: t.key, json: body, env: origin })).status).toBe(200);
    const cookie = await signIn();
    const r = await page('GET', '/console', { cookie });
    const row = new RegExp(`${t.tenantId}">[^<]+</a></th>(.*?)</tr>`).exec(r.html)?.[1] ?? '';
    const cells = [...row.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
    // spent, budget, period, requests, cache hits, failed, saved
    expect(cells).toEqual([expect.stringMatching(/^0\.\d+$/), '5', 'month', '2', '1', '0', cells[0]]);
    expect(r.html).toContain('<svg class="chart"');
    expect(r.html).toMatch(/Failures by origin/);
  });

  it('the models page lists each price version', async () => {
    const cookie = await signIn();
    const r = await page('GET', '/console/models', { cookie });
    expect(r.status).toBe(200);
    expect(r.html).toContain('stabilityai/stable-diffusion-3.5-large');
    expect(r.html).toContain('Price versions');
  });

  it('the audit log filters and pages with the admin API cursor', async () => {
    const t = await createTenantWithKey();
    for (let i = 0; i < 3; i++) expect((await call('PATCH', `/admin/tenants/${t.tenantId}`, { admin: true, json: { rate_limit_rpm: 10 + i } })).status).toBe(200);
    const cookie = await signIn();
    const first = await page('GET', `/console/audit?target_id=${t.tenantId}&action=tenant.update`, { cookie });
    expect(first.status).toBe(200);
    expect(first.html.match(/<code>tenant.update<\/code>/g)).toHaveLength(3);
    const bad = await page('GET', '/console/audit?from=yesterday', { cookie });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('<code>from</code>');
  });
});
