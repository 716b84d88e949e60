import { describe, expect, it } from 'vitest';
import { VIEWER_FILES } from '../../src/routes/docs';
import { call } from '../helpers/api';

/** Every URL the page's HTML loads (scripts, styles, icons). */
function loadedUrls(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
}

describe('GET /docs', () => {
  it('is a page that loads only files this Worker serves, under a CSP that forbids anything else', async () => {
    const r = await call('GET', '/docs');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:/);
    const html = r.text();
    expect(html).not.toMatch(/https?:\/\//);
    const urls = loadedUrls(html);
    expect(urls).toEqual(
      expect.arrayContaining(['/docs/swagger-ui/swagger-ui.css', '/docs/swagger-ui/swagger-ui-bundle.js', '/docs/init.js']),
    );
    for (const url of urls) expect(url.startsWith('/'), url).toBe(true);
  });

  it('serves each file the page loads, with its type', async () => {
    const types: Record<string, RegExp> = {
      '/docs/swagger-ui/swagger-ui.css': /^text\/css/,
      '/docs/swagger-ui/swagger-ui-bundle.js': /javascript/,
      '/docs/swagger-ui/favicon-32x32.png': /^image\/png/,
      '/docs/init.js': /javascript/,
    };
    const html = (await call('GET', '/docs')).text();
    for (const url of loadedUrls(html)) {
      const r = await call('GET', url);
      expect(r.status, url).toBe(200);
      expect(r.headers.get('content-type'), url).toMatch(types[url] ?? /./);
      expect(r.bytes.length, url).toBeGreaterThan(100);
    }
    for (const file of VIEWER_FILES) expect((await call('GET', `/docs/swagger-ui/${file}`)).status, file).toBe(200);
    const bundle = (await call('GET', '/docs/swagger-ui/swagger-ui-bundle.js')).text();
    expect(bundle).toContain('SwaggerUIBundle');
  });

  it('points the viewer at /openapi.json without the online validator', async () => {
    const init = (await call('GET', '/docs/init.js')).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
  });

  it('answers 404 in the envelope for any other viewer file', async () => {
    for (const path of ['/docs/swagger-ui/swagger-ui.js.map', '/docs/swagger-ui/..%2F..%2Fwrangler.toml', '/docs/swagger-ui/index.html']) {
      const r = await call('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.json().error.code).toBe('not_found');
    }
  });
});
