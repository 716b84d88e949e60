import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { createApp } from '../../src/app';
import { sha256Hex } from '../../src/domain/sha256';
import { ADMIN_TOKEN, unique, type TestEnv } from '../helpers/api';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';
import { newPrincipal, type Principal } from '../admins/http-support';

/** Console requests as a browser sends them: form bodies, the session cookie, and the console's own Origin. */

export const BASE = 'http://gateway.test';
const defaultApp = createApp();

export interface PageResult {
  status: number;
  headers: Headers;
  html: string;
}

export interface PageOptions {
  cookie?: string | null;
  /** Pairs repeat a field, as checked checkboxes do. */
  form?: Record<string, string> | [string, string][];
  /** The Origin a POST carries; the console's own unless given. */
  origin?: string;
  base?: string;
  app?: ReturnType<typeof createApp>;
  env?: TestEnv;
}

export async function page(method: 'GET' | 'POST', path: string, options: PageOptions = {}): Promise<PageResult> {
  const base = options.base ?? BASE;
  const headers = new Headers();
  if (options.cookie) headers.set('cookie', options.cookie);
  let body: string | undefined;
  if (method === 'POST') {
    headers.set('origin', options.origin ?? base);
    headers.set('content-type', 'application/x-www-form-urlencoded');
    body = new URLSearchParams(options.form ?? {}).toString();
  }
  const ctx = createExecutionContext();
  const response = await (options.app ?? defaultApp).fetch(new Request(`${base}${path}`, { method, headers, body, redirect: 'manual' }), options.env ?? env, ctx);
  const html = await response.text();
  await waitOnExecutionContext(ctx);
  return { status: response.status, headers: response.headers, html };
}

/** The `name=value` of the session cookie a sign-in answer set, ready for a Cookie header. */
export function sessionCookie(r: PageResult): string {
  const set = r.headers.get('set-cookie') ?? '';
  const match = /imagegate_console=([^;]+)/.exec(set);
  if (!match?.[1]) throw new Error(`no session cookie in ${r.status} ${set}`);
  return `imagegate_console=${match[1]}`;
}

export async function signIn(token = ADMIN_TOKEN, options: PageOptions = {}): Promise<string> {
  const r = await page('POST', '/console/sign-in', { ...options, form: { token } });
  if (r.status !== 303) throw new Error(`sign-in answered ${r.status}: ${r.html.slice(0, 300)}`);
  return sessionCookie(r);
}

/** The stored row of a session, found by its cookie (D1 keeps only the token's hash). */
export async function sessionRow(cookie: string) {
  const token = cookie.split('=')[1] ?? '';
  return env.DB.prepare('SELECT * FROM console_sessions WHERE id_hash = ?').bind(await sha256Hex(token)).first<{
    principal_type: string;
    principal_id: string;
    created_at: string;
    expires_at: string;
    ended_at: string | null;
  }>();
}

/** The newest audit entry of `action`. */
export function lastAudit(action: string) {
  return env.DB.prepare('SELECT actor_id, actor_role, target_id, after_json FROM audit_log WHERE action = ? ORDER BY at DESC, id DESC LIMIT 1')
    .bind(action)
    .first<{ actor_id: string; actor_role: string; target_id: string; after_json: string | null }>();
}

export async function countRows(table: 'console_sessions' | 'audit_log' | 'tenants'): Promise<number> {
  return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first<{ n: number }>())?.n ?? 0;
}

/** The forms on a page that POST somewhere other than sign-out: the controls that change data. */
export function changingForms(html: string): string[] {
  return [...html.matchAll(/<form\b[^>]*>/g)]
    .map((m) => m[0])
    .filter((tag) => /method="post"/i.test(tag))
    .map((tag) => /action="([^"]*)"/.exec(tag)?.[1] ?? '')
    .filter((action) => action !== '/console/sign-out');
}

/** Who the role tests sign in as: a viewer, a tenant admin of `own`, an admin; `other` is a tenant the tenant admin may not see. */
export interface RoleCast {
  own: TenantKey;
  other: TenantKey;
  viewer: Principal;
  tenantAdmin: Principal;
  admin: Principal;
}

/** Makes a RoleCast; `tenant` adds fields to both tenants (POST /admin/tenants). */
export async function castOfRoles(tenant: Record<string, unknown> = {}): Promise<RoleCast> {
  const own = await createTenantWithKey({ tenant: { name: unique('own'), ...tenant } });
  const other = await createTenantWithKey({ tenant: { name: unique('other'), ...tenant } });
  const [viewer, tenantAdmin, admin] = await Promise.all([newPrincipal('viewer'), newPrincipal('tenant_admin', own.tenantId), newPrincipal('admin')]);
  return { own, other, viewer, tenantAdmin, admin };
}
