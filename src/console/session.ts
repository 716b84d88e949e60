import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { CONSOLE_ACTIONS, actorOf } from '../domain/audit';
import { BOOTSTRAP_PRINCIPAL, type Principal } from '../domain/roles';
import { base64FromBytes, base64url } from '../domain/base64';
import { sha256Hex } from '../domain/sha256';
import type { AppEnv } from '../env';
import { principalFor } from '../middleware/admin-auth';
import { getAdmin, principalOf } from '../storage/admins';
import { commitAudited } from '../storage/audit';
import { endSessionStatement, insertSessionStatement, liveSession } from '../storage/console-sessions';

/**
 * Console sessions (docs/console.md): a token pasted once into the sign-in form becomes a random
 * session id in an HttpOnly cookie; the token itself never reaches the browser's storage. D1 keeps
 * only the id's SHA-256, the principal and the times; the session ends 8 hours after sign-in or at
 * sign-out, and its principal is looked up again on every request, so a revocation ends it too, as
 * a change of ADMIN_TOKEN ends the sessions signed in with the old one.
 */

export const SESSION_COOKIE = 'imagegate_console';
export const SESSION_HOURS = 8;
const SESSION_MS = SESSION_HOURS * 3_600_000;

/** A cookie is Secure everywhere but plain http on the loopback names, where a browser would drop it. */
function secureCookie(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return !(protocol === 'http:' && (hostname === '127.0.0.1' || hostname === 'localhost'));
}

function randomToken(): string {
  return base64url(base64FromBytes(crypto.getRandomValues(new Uint8Array(32))));
}

/**
 * Signs in with ADMIN_TOKEN or an admin token, checked exactly as the admin API checks a bearer
 * token: writes the session row and its `console.sign_in` audit entry in one batch and sets the
 * cookie. Null when the token names nobody (nothing is stored then).
 */
export async function signIn(c: Context<AppEnv>, token: string): Promise<Principal | null> {
  const bootstrap = c.env.ADMIN_TOKEN;
  const principal = bootstrap ? await principalFor(c, token.trim(), bootstrap) : null;
  if (!principal) return null;
  const now = c.var.deps.now();
  const id = randomToken();
  const session = {
    idHash: await sha256Hex(id),
    principalType: principal.type,
    principalId: principal.id,
    bootstrapHash: principal.type === 'admin_token' ? await sha256Hex(bootstrap ?? '') : null,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + SESSION_MS).toISOString(),
  };
  await commitAudited(c.env.DB, insertSessionStatement(c.env.DB, session), {
    at: session.createdAt,
    actor: actorOf(principal),
    action: CONSOLE_ACTIONS.signIn,
    target: { type: 'admin', id: principal.id },
    tenantId: principal.tenantId,
    before: null,
    after: { expires_at: session.expiresAt },
    requestId: c.var.requestId,
  });
  setCookie(c, SESSION_COOKIE, id, { httpOnly: true, secure: secureCookie(c.req.url), sameSite: 'Strict', path: '/', maxAge: SESSION_MS / 1000 });
  return principal;
}

/** Ends the session server-side (a later request with the same cookie is signed out) and drops the cookie. */
export async function signOut(c: Context<AppEnv>): Promise<void> {
  const id = getCookie(c, SESSION_COOKIE);
  const principal = c.var.consoleSession?.principal;
  if (id && principal) {
    const at = new Date(c.var.deps.now()).toISOString();
    await commitAudited(c.env.DB, endSessionStatement(c.env.DB, await sha256Hex(id), at), {
      at,
      actor: actorOf(principal),
      action: CONSOLE_ACTIONS.signOut,
      target: { type: 'admin', id: principal.id },
      tenantId: principal.tenantId,
      before: null,
      after: { ended_at: at },
      requestId: c.var.requestId,
    });
  }
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureCookie(c.req.url) });
}

/** The principal a live session acts as now: none when it ended, expired, or its principal was revoked. */
async function sessionPrincipal(c: Context<AppEnv>, id: string): Promise<Principal | null> {
  const row = await liveSession(c.env.DB, await sha256Hex(id), new Date(c.var.deps.now()).toISOString());
  const bootstrap = c.env.ADMIN_TOKEN;
  if (!row || !bootstrap) return null;
  // a changed ADMIN_TOKEN (rotated after a leak, say) ends the sessions the old one opened
  if (row.principalType === 'admin_token') return (await sha256Hex(bootstrap)) === row.bootstrapHash ? BOOTSTRAP_PRINCIPAL : null;
  const admin = await getAdmin(c.env.DB, row.principalId);
  return admin && admin.revokedAt === null ? principalOf(admin) : null;
}

export interface ConsoleSession {
  principal: Principal;
}

declare module 'hono' {
  interface ContextVariableMap {
    consoleSession: ConsoleSession;
  }
}

/** Every console page but sign-in: without a live session, to the sign-in form (303). */
export function requireSession(): MiddlewareHandler<AppEnv> {
  return async function consoleSessionMiddleware(c, next) {
    const id = getCookie(c, SESSION_COOKIE);
    const principal = id ? await sessionPrincipal(c, id) : null;
    if (!principal) {
      if (id) deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureCookie(c.req.url) });
      return c.redirect('/console/sign-in', 303);
    }
    c.set('consoleSession', { principal });
    c.set('principal', principal);
    await next();
  };
}
