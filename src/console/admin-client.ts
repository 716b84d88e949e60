import type { Context, ExecutionContext } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Principal } from '../domain/roles';
import type { AppEnv, Env } from '../env';
import { handPrincipal } from '../middleware/admin-auth';

/**
 * The console changes and reads data only through the admin API, called in-process as the signed-in
 * principal (docs/console.md): roles, validation and audit are the admin API's own, so the console
 * has no second way to change anything.
 */

/** The app's own `fetch`: the admin API the console calls. */
export type AppFetch = (request: Request, env: Env, ctx?: ExecutionContext) => Response | Promise<Response>;

/** A refusal's status is the admin API's, for the page to answer with (a 204 never is one). */
export type AdminAnswer<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: ContentfulStatusCode; code: string; message: string; param: string | null };

/** The admin API's refusal, as a page shows it. */
export type AdminFailure = Extract<AdminAnswer<unknown>, { ok: false }>;

export interface AdminClient {
  get<T>(path: string): Promise<AdminAnswer<T>>;
  send<T>(method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, json?: unknown): Promise<AdminAnswer<T>>;
  /** The answer as it came, for a CSV passed through to the browser. */
  raw(path: string): Promise<Response>;
}

function executionContext(c: Context<AppEnv>): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined; // a caller that gave the app no context (app.request in a test)
  }
}

export function adminClient(c: Context<AppEnv>, appFetch: AppFetch, principal: Principal): AdminClient {
  async function raw(method: string, path: string, json?: unknown): Promise<Response> {
    const headers = new Headers({ accept: 'application/json' });
    if (json !== undefined) headers.set('content-type', 'application/json');
    const request = new Request(new URL(path, c.req.url), { method, headers, body: json === undefined ? null : JSON.stringify(json) });
    return appFetch(handPrincipal(request, principal), c.env, executionContext(c));
  }
  async function answer<T>(response: Response): Promise<AdminAnswer<T>> {
    const text = await response.text();
    const body = text === '' ? null : (JSON.parse(text) as unknown);
    if (response.ok) return { ok: true, status: response.status, data: body as T };
    const error = (body as { error?: { code?: string; message?: string; param?: string | null } } | null)?.error;
    return { ok: false, status: response.status as ContentfulStatusCode, code: error?.code ?? 'internal', message: error?.message ?? `the admin API answered ${response.status}`, param: error?.param ?? null };
  }
  return {
    get: async (path) => answer(await raw('GET', path)),
    send: async (method, path, json) => answer(await raw(method, path, json)),
    raw: (path) => raw('GET', path),
  };
}

declare module 'hono' {
  interface ContextVariableMap {
    consoleAdmin: AdminClient;
  }
}
