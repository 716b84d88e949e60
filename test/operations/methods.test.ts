import { describe, expect, it } from 'vitest';
import { call } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** Methods and the root (docs/operations.md): a known path with another method is 405 with `Allow`. */

describe('a known path asked with another method', () => {
  it('answers 405 method_not_allowed with Allow naming every method the path has, with or without a key; nothing charged', async () => {
    const t = await createTenantWithKey();
    const cases: [string, string, string][] = [
      ['GET', '/image/generation', 'POST'],
      ['PUT', '/image/generation', 'POST'],
      ['DELETE', '/image/generation', 'POST'],
      ['PATCH', '/image/generation', 'POST'],
      ['OPTIONS', '/image/generation', 'POST'],
      // GET /v1/images/{id} answers this path too (as an image id), so GET is allowed here
      ['PUT', '/v1/images/generations', 'GET, HEAD, POST'],
      ['GET', '/v1/estimate', 'POST'],
      ['POST', '/v1/usage', 'GET, HEAD'],
      ['POST', '/v1/images/img_doesnotexist0000', 'GET, HEAD'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['POST', '/openapi.json', 'GET, HEAD'],
      ['DELETE', '/', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      for (const options of [{}, { key: t.key }]) {
        const r = await call(method, path, { ...options, ...(method === 'GET' || method === 'OPTIONS' ? {} : { json: {} }) });
        const message = expectError(r, 405, 'method_not_allowed', { param: null });
        expect(r.headers.get('allow'), `${method} ${path}`).toBe(allow);
        expect(message).toContain(allow);
      }
    }
    await expectNothingCharged(t);
  });

  it('on admin paths too, once the admin token is given, with each path\'s own methods', async () => {
    const tenant = await call('POST', '/admin/tenants', { admin: true, json: { name: 'methods-tenant' } });
    const id = tenant.json().id as string;
    const r = await call('DELETE', `/admin/tenants/${id}`, { admin: true });
    expectError(r, 405, 'method_not_allowed');
    expect(r.headers.get('allow')).toBe('GET, HEAD, PATCH');
    const models = await call('POST', '/admin/models/stabilityai/stable-diffusion-3.5-large', { admin: true, json: {} });
    expectError(models, 405, 'method_not_allowed');
    expect(models.headers.get('allow')).toBe('GET, HEAD, PUT');
    const health = await call('POST', '/admin/health', { admin: true, json: {} });
    expect(health.headers.get('allow')).toBe('GET, HEAD');
    // without the token the admin check answers first, as on every /admin route
    expectError(await call('DELETE', `/admin/tenants/${id}`), 401, 'unauthorized');
  });

  it('HEAD where only POST is served is 405 too, with no body', async () => {
    const r = await call('HEAD', '/image/generation');
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
    expect(r.bytes.length).toBe(0);
  });

  it('unknown paths stay 404 not_found, with no Allow', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['POST', '/v1/nothing'],
      ['GET', '/image/generation/extra'],
      ['PUT', '/healthz/x'],
      ['GET', '/healthz/'],
      ['DELETE', '/v1/images'],
    ] as const) {
      const r = await call(method, path);
      expectError(r, 404, 'not_found');
      expect(r.headers.get('allow')).toBeNull();
    }
  });
});

describe('GET /', () => {
  it('answers a small HTML page titled imagegate that links the docs, the document and the console', async () => {
    const r = await call('GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const page = r.text();
    expect(page).toContain('<title>imagegate</title>');
    for (const link of ['/docs', '/openapi.json', '/console']) expect(page).toContain(`href="${link}"`);
    expect(page).not.toMatch(/<script/i);
  });

  it('is declared like every other route: it is in the OpenAPI document', async () => {
    const doc = (await call('GET', '/openapi.json')).json();
    expect(doc.paths['/']?.get?.operationId).toBe('rootPage');
  });
});
