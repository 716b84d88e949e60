import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, call, clockedApp, unique, type TestEnv } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { newPrincipal } from '../admins/http-support';
import { changingForms, countRows, page, sessionCookie, sessionRow, signIn } from './support';

/* docs/console.md: sign-in, the session cookie, its 8 hours, sign-out, and the Origin check. */

describe('sign-in', () => {
  it('ADMIN_TOKEN signs in: a session row (hash only) and its audit entry in one batch, then the overview', async () => {
    const audits = await countRows('audit_log');
    const r = await page('POST', '/console/sign-in', { form: { token: ADMIN_TOKEN } });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/console');
    const cookie = sessionCookie(r);
    const row = await sessionRow(cookie);
    expect(row?.principal_type).toBe('admin_token');
    expect(row?.ended_at).toBeNull();
    expect(Date.parse(row?.expires_at ?? '') - Date.parse(row?.created_at ?? '')).toBe(8 * 3_600_000);
    // only the token's hash is stored: the cookie's value is in no column
    const stored = JSON.stringify(await env.DB.prepare('SELECT * FROM console_sessions').all());
    expect(stored).not.toContain(cookie.split('=')[1]);
    expect(stored).not.toContain(ADMIN_TOKEN);
    expect(await countRows('audit_log')).toBe(audits + 1);
    const entry = await env.DB.prepare("SELECT * FROM audit_log WHERE action = 'console.sign_in' ORDER BY at DESC, id DESC LIMIT 1").first<{ actor_id: string }>();
    expect(entry?.actor_id).toBe('admin_token');
    const overview = await page('GET', '/console', { cookie });
    expect(overview.status).toBe(200);
    expect(overview.html).toContain('Spend against budget');
  });

  it('a wrong token: the form again with an error, 401, nothing stored', async () => {
    const [sessions, audits] = [await countRows('console_sessions'), await countRows('audit_log')];
    for (const token of ['wrong', `iga_${'A'.repeat(40)}`, '']) {
      const r = await page('POST', '/console/sign-in', { form: { token } });
      expect(r.status).toBe(401);
      expect(r.html).toContain('role="alert"');
      expect(r.html).toContain('name="token"');
      expect(r.headers.get('set-cookie')).toBeNull();
    }
    expect(await countRows('console_sessions')).toBe(sessions);
    expect(await countRows('audit_log')).toBe(audits);
  });

  it('an admin principal signs in with its token; a revoked one stops working at once', async () => {
    const p = await newPrincipal('admin');
    const cookie = await signIn(p.token);
    expect((await sessionRow(cookie))?.principal_id).toBe(p.id);
    expect((await page('GET', '/console/tenants', { cookie })).status).toBe(200);
    expect((await call('DELETE', `/admin/admins/${p.id}`, { admin: true })).status).toBe(204);
    const after = await page('GET', '/console/tenants', { cookie });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/console/sign-in');
  });

  it('a changed ADMIN_TOKEN ends the sessions the old one opened', async () => {
    const cookie = await signIn();
    expect((await page('GET', '/console', { cookie })).status).toBe(200);
    const rotated = { ...env, ADMIN_TOKEN: 'the-next-admin-token' } as TestEnv;
    const r = await page('GET', '/console', { cookie, env: rotated });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/console/sign-in');
    expect((await page('GET', '/console', { cookie: await signIn('the-next-admin-token', { env: rotated }), env: rotated })).status).toBe(200);
  });

  it('without a session every page sends the browser to the sign-in form', async () => {
    for (const path of ['/console', '/console/tenants', '/console/models', '/console/audit', '/console/usage.csv']) {
      const r = await page('GET', path, { cookie: 'imagegate_console=made-up' });
      expect(r.status, path).toBe(303);
      expect(r.headers.get('location')).toBe('/console/sign-in');
    }
  });
});

describe('the session cookie', () => {
  const attributes = (setCookie: string) => setCookie.split(';').map((part) => part.trim().toLowerCase());

  it('HttpOnly, SameSite=Strict, Path=/, 8 hours; Secure except on plain http to 127.0.0.1 or localhost', async () => {
    const cases: [string, boolean][] = [
      ['http://127.0.0.1:8787', false],
      ['http://localhost:8787', false],
      ['https://gateway.example', true],
      ['http://gateway.test', true],
    ];
    for (const [base, secure] of cases) {
      const r = await page('POST', '/console/sign-in', { base, form: { token: ADMIN_TOKEN } });
      const attrs = attributes(r.headers.get('set-cookie') ?? '');
      expect(attrs, base).toContain('httponly');
      expect(attrs).toContain('samesite=strict');
      expect(attrs).toContain('path=/');
      expect(attrs).toContain(`max-age=${8 * 3600}`);
      expect(attrs.includes('secure'), base).toBe(secure);
    }
  });

  it('ends 8 hours after sign-in, whatever the cookie says', async () => {
    const { clock, app } = clockedApp(Date.parse('2026-11-20T08:00:00.000Z'));
    const cookie = await signIn(ADMIN_TOKEN, { app });
    clock.now += 8 * 3_600_000 - 1_000;
    expect((await page('GET', '/console', { cookie, app })).status).toBe(200);
    clock.now += 1_000;
    const r = await page('GET', '/console', { cookie, app });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/console/sign-in');
  });

  it('sign-out ends the row server-side: the old cookie then leads to the sign-in form', async () => {
    const cookie = await signIn();
    const out = await page('POST', '/console/sign-out', { cookie });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/console/sign-in');
    expect(out.headers.get('set-cookie') ?? '').toMatch(/imagegate_console=;.*Max-Age=0/i);
    expect((await sessionRow(cookie))?.ended_at).not.toBeNull();
    const again = await page('GET', '/console', { cookie });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/console/sign-in');
  });
});

describe('cross-site requests', () => {
  it('a console form POST from a foreign Origin is refused with 403 and changes nothing', async () => {
    const cookie = await signIn();
    const [tenants, audits] = [await countRows('tenants'), await countRows('audit_log')];
    const name = unique('csrf');
    for (const origin of ['https://evil.example', 'null']) {
      const r = await page('POST', '/console/tenants', { cookie, origin, form: { name } });
      expect(r.status).toBe(403);
      expectError({ status: r.status, headers: r.headers, bytes: new Uint8Array(), text: () => r.html, json: () => JSON.parse(r.html) }, 403, 'forbidden');
    }
    const out = await page('POST', '/console/sign-out', { cookie, origin: 'https://evil.example' });
    expect(out.status).toBe(403);
    expect((await sessionRow(cookie))?.ended_at).toBeNull();
    expect(await countRows('tenants')).toBe(tenants);
    expect(await countRows('audit_log')).toBe(audits);
    // the same form from the console itself goes through
    expect((await page('POST', '/console/tenants', { cookie, form: { name } })).status).toBe(303);
    expect(await countRows('tenants')).toBe(tenants + 1);
  });

  it('the sign-in form is guarded too', async () => {
    const r = await page('POST', '/console/sign-in', { origin: 'https://evil.example', form: { token: ADMIN_TOKEN } });
    expect(r.status).toBe(403);
    expect(r.headers.get('set-cookie')).toBeNull();
  });
});

describe('headers and hosts', () => {
  it('every page carries the CSP and names no other host', async () => {
    const cookie = await signIn();
    const tenant = await page('POST', '/console/tenants', { cookie, form: { name: unique('hosts') } });
    const tenantPath = tenant.headers.get('location')?.split('?')[0] ?? '';
    for (const path of ['/console/sign-in', '/console', '/console/tenants', tenantPath, '/console/models', '/console/audit']) {
      const r = await page('GET', path, { cookie });
      expect(r.status, path).toBe(200);
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp).not.toMatch(/unsafe-inline|https?:/);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(r.html, path).not.toMatch(/(?:src|href|action)="(?:https?:)?\/\//);
      expect(r.html).not.toMatch(/<script>|<style|style="/);
      expect(changingForms(r.html).every((action) => action.startsWith('/console/'))).toBe(true);
    }
  });
});
