import { Hono } from 'hono';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { adminClient, type AppFetch } from './admin-client';
import { assetRoutes } from './assets';
import { NAV } from './nav';
import { signInPage, signOutPage } from './pages/sign-in';
import { requireSession } from './session';

/**
 * The console at /console (docs/console.md): server-rendered pages over the admin API. `appFetch`
 * is the whole app's own fetch, through which every read and change reaches the admin API as the
 * signed-in principal.
 */
export function consoleRoutes(appFetch: AppFetch): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'"],
        styleSrc: ["'self'"],
        scriptSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
    }),
  );
  routes.use('*', refuseForeignOrigin());
  routes.route('/', assetRoutes);
  signInPage.mount(routes);
  routes.use('*', requireSession());
  routes.use('*', async function consoleContext(c, next) {
    c.set('consoleNav', NAV);
    c.set('consoleAdmin', adminClient(c, appFetch, c.var.consoleSession.principal));
    await next();
  });
  signOutPage.mount(routes);
  for (const entry of NAV) entry.page.mount(routes);
  routes.get('/usage.csv', async function usageCsv(c) {
    // the admin API's own CSV report, with its filters and the principal's scope
    const query = new URL(c.req.url).searchParams;
    query.set('format', 'csv');
    return c.var.consoleAdmin.raw(`/admin/usage?${query}`);
  });
  return routes;
}

/**
 * Hono's `csrf()`: a form POST whose Origin (or Sec-Fetch-Site) is not the console's own is
 * refused, as 403 `forbidden` in the one error envelope, before any handler runs.
 */
function refuseForeignOrigin() {
  const check = csrf();
  return async function consoleCsrf(...args: Parameters<typeof check>) {
    try {
      return await check(...args);
    } catch (err) {
      if (err instanceof HTTPException && err.status === 403) throw new ApiError('forbidden', 'a console form must be sent from the console itself');
      throw err;
    }
  };
}
