import type { ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppDeps, AppEnv } from './env';
import { Failed } from './domain/failure';
import { errorText, log } from './log';
import { apiErrorOf } from './routes/failures';
import { ApiError, errorResponse } from './errors';
import { adminAuth, adminPolicy } from './middleware/admin-auth';
import { requestId } from './middleware/request-id';
import { storageGuard } from './middleware/storage-guard';
import { adminAdminRoutes } from './routes/admin-admins';
import { adminAuditRoutes } from './routes/admin-audit';
import { adminKeyRoutes } from './routes/admin-keys';
import { adminModelRoutes } from './routes/admin-models';
import { adminTenantRoutes } from './routes/admin-tenants';
import { adminUsageRoutes } from './routes/admin-usage';
import { adminWebhookRoutes } from './routes/admin-webhooks';
import { estimateRoutes } from './routes/estimate';
import { generationRoutes } from './routes/generation';
import { healthRoutes } from './routes/health';
import { imageRoutes } from './routes/images';
import { usageRoutes } from './routes/usage';
import { openAIImageRoutes } from './routes/openai-images';
import { docsRoutes } from './routes/docs';
import { rootRoutes } from './routes/root';
import { adminHealthRoutes } from './routes/admin-health';
import { adminMetricsRoutes } from './routes/admin-metrics';
import { consoleRoutes } from './console';
import { routeGroup } from './routes/route-group';
import { noteAdminRoles } from './openapi/describe';

const defaultDeps: AppDeps = { now: () => Date.now() };

/** Builds the whole app: tests and production get the same middleware, routes and error handling. */
export function createApp(deps: Partial<AppDeps> = {}) {
  const resolved: AppDeps = { ...defaultDeps, ...deps };
  const app = routeGroup();

  app.use('*', requestId());
  app.use('*', async function injectDeps(c, next) {
    c.set('deps', resolved);
    await next();
  });
  // before anything reads storage: every D1, R2 and Durable Object call below is bounded
  app.use('*', storageGuard());
  app.use('/admin/*', adminAuth());
  // after auth, before any route's own middleware: who may call what is decided here, once
  app.use('/admin/*', adminPolicy());

  mountRoutes(app);
  app.notFound(notFoundOrNotAllowed(allowedMethods(app)));
  app.onError(onError);
  return app;
}

type App = ReturnType<typeof routeGroup>;

/** Every route family; the docs last, since the document lists every route mounted before it. */
function mountRoutes(app: App): void {
  for (const routes of [
    rootRoutes,
    healthRoutes,
    adminHealthRoutes,
    generationRoutes,
    openAIImageRoutes,
    imageRoutes,
    adminTenantRoutes,
    estimateRoutes,
    usageRoutes,
    adminModelRoutes,
    adminUsageRoutes,
    adminKeyRoutes,
    adminAdminRoutes,
    adminAuditRoutes,
    adminWebhookRoutes,
    adminMetricsRoutes,
  ]) {
    app.route('/', routes);
  }
  // the console calls the admin API through the app itself, as the signed-in principal
  app.route('/console', consoleRoutes((request, env, ctx) => app.fetch(request, env, ctx)));
  app.route('/', docsRoutes(app));
  // once every route is mounted: each admin route's document entry names the roles the policy allows
  noteAdminRoles(app);
}

/** An unknown path is 404; a known path asked with another method is 405 with `Allow`. */
function notFoundOrNotAllowed(allowed: (path: string) => string[]): NotFoundHandler<AppEnv> {
  return function notFound(c) {
    const path = new URL(c.req.url).pathname;
    const allow = allowed(path);
    const err =
      allow.length > 0
        ? new ApiError('method_not_allowed', `${path} does not answer ${c.req.method}; it answers ${allow.join(', ')}`, { headers: { Allow: allow.join(', ') } })
        : new ApiError('not_found', `no route ${c.req.method} ${path}`);
    return errorResponse(err, c.var.requestId ?? 'unknown');
  };
}

/** Every error in the one envelope: failures and ApiErrors as they are, Hono's own mapped, a bug as `internal`. */
const onError: ErrorHandler<AppEnv> = function onError(err, c) {
  const id = c.var.requestId ?? 'unknown';
  if (err instanceof Failed) err = apiErrorOf(err.failure);
  if (err instanceof ApiError) {
    if (c.var.log) c.var.log.error = err.code;
    return errorResponse(err, id);
  }
  if (err instanceof HTTPException) {
    // Hono's own (e.g. a malformed request it rejected): the nearest code of ours, in our envelope
    const code = err.status === 413 ? 'payload_too_large' : err.status === 401 ? 'unauthorized' : 'invalid_request';
    return errorResponse(new ApiError(code, err.message || 'bad request'), id);
  }
  // A bug: log it with the stack, answer without one.
  log.error(errorText(err), { request_id: id, stack: err.stack });
  return errorResponse(new ApiError('internal', 'internal error; quote the request id when reporting it'), id);
};

/**
 * The methods the app answers on a path (RFC 9110 §15.5.6: a 405 carries them in `Allow`), read
 * from the router's own route list, so a route added later is counted without a second list. HEAD
 * is answered wherever GET is (Hono runs the GET handler for it). The patterns are compiled on the
 * first miss, when every route is in place.
 */
function allowedMethods(app: { routes: { method: string; path: string }[] }): (path: string) => string[] {
  let patterns: { method: string; pattern: RegExp }[] | undefined;
  return (path) => {
    patterns ??= app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, pattern: pathPattern(r.path) }));
    const methods = new Set(patterns.filter((p) => p.pattern.test(path)).map((p) => p.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}

/** A Hono route path (`/v1/images/:id`, `/admin/models/:model{.+}`, `/docs/*`) as a regular expression over a whole pathname. */
function pathPattern(path: string): RegExp {
  const source = segments(path)
    .map((part) => {
      if (part === '*') return '.*';
      const param = /^:[A-Za-z_][A-Za-z0-9_]*(?:\{(.+)\})?$/.exec(part);
      if (param) return param[1] ? `(?:${param[1]})` : '[^/]+';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}$`);
}

/** A route path's segments: split on `/`, but not inside a parameter's `{regex}` (which may hold one). */
function segments(path: string): string[] {
  const parts = [''];
  let depth = 0;
  for (const ch of path) {
    if (ch === '/' && depth === 0) parts.push('');
    else parts[parts.length - 1] += ch;
    if (ch === '{') depth += 1;
    if (ch === '}') depth -= 1;
  }
  return parts;
}
