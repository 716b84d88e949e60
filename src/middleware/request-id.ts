import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { randomBase62 } from '../domain/keys';
import { log } from '../log';

/**
 * Gives every request an id and writes one structured JSON log line when it ends: request id,
 * tenant, key prefix, route, status, origin, latency. Never a key, a token or a prompt.
 */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestIdMiddleware(c, next) {
    const id = `req_${randomBase62(22)}`;
    const started = Date.now();
    c.set('requestId', id);
    c.set('log', {});
    await next();
    c.res.headers.set('X-Request-Id', id);
    const caller = c.var.caller;
    const write = c.res.status >= 500 ? log.error : log.info;
    write('request', {
      request_id: id,
      method: c.req.method,
      route: c.req.routePath,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      tenant_id: caller?.tenant.id ?? null,
      key_prefix: caller?.key.prefix ?? null,
      latency_ms: Date.now() - started,
      ...c.var.log,
    });
  };
}
