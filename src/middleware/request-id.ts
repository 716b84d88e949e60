import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { randomBase62 } from '../domain/keys';

export interface RequestIdOptions {
  /** Response header carrying the id (also in the log line and the usage ledger). */
  headerName?: string;
}

/**
 * Gives every request an id and writes one structured JSON log line when it ends: request id,
 * tenant, key prefix, route, status, origin, latency. Never a key, a token or a prompt.
 */
export function requestId(options: RequestIdOptions = {}): MiddlewareHandler<AppEnv> {
  const headerName = options.headerName ?? 'X-Request-Id';
  return async function requestIdMiddleware(c, next) {
    const id = `req_${randomBase62(22)}`;
    const started = Date.now();
    c.set('requestId', id);
    c.set('log', {});
    await next();
    c.res.headers.set(headerName, id);
    const caller = c.var.caller;
    console.log(
      JSON.stringify({
        level: c.res.status >= 500 ? 'error' : 'info',
        request_id: id,
        method: c.req.method,
        route: c.req.routePath,
        path: new URL(c.req.url).pathname,
        status: c.res.status,
        tenant_id: caller?.tenant.id ?? null,
        key_prefix: caller?.key.prefix ?? null,
        latency_ms: Date.now() - started,
        ...c.var.log,
      }),
    );
  };
}
