import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { raw } from 'hono/html';
import { authorize, type Method, type Principal } from '../domain/roles';
import type { AppEnv } from '../env';
import { CSS_PATH, JS_PATH } from './assets';

/**
 * The console's shared layout (docs/console.md): a header with the navigation and who is signed
 * in, then the page. The navigation is data (`NavEntry`, listed in ./nav), so a page is one file
 * plus one entry there.
 */

export interface NavEntry {
  label: string;
  href: string;
  /** The admin route the page reads: the entry shows only to a principal the policy lets call it. */
  reads: [Method, string];
}

declare module 'hono' {
  interface ContextVariableMap {
    consoleNav: readonly NavEntry[];
  }
}

/** Whether the policy lets `principal` call the route (on an object of `tenantId`, for per-object routes). */
export function can(principal: Principal, method: Method, path: string, tenantId?: string): boolean {
  return authorize(principal, method, path, tenantId === undefined ? undefined : { tenantId }) === 'allow';
}

function Document(props: { title: string; children: Child }) {
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="referrer" content="no-referrer" />
          <title>{`${props.title} · imagegate console`}</title>
          <link rel="stylesheet" href={CSS_PATH} />
          <script src={JS_PATH} defer></script>
        </head>
        <body>{props.children}</body>
      </html>
    </>
  );
}

function Header(props: { nav: readonly NavEntry[]; current: string; principal: Principal }) {
  const { principal } = props;
  const visible = props.nav.filter((entry) => can(principal, entry.reads[0], entry.reads[1]));
  return (
    <header class="top">
      <a class="skip" href="#content">
        Skip to content
      </a>
      <a class="brand" href="/console">
        imagegate
      </a>
      <nav class="main" aria-label="Console">
        <ul>
          {visible.map((entry) => (
            <li>
              <a href={entry.href} aria-current={entry.href === props.current ? 'page' : undefined}>
                {entry.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="who">
        <span>
          {principal.name} <span class="badge">{principal.role.replace('_', ' ')}</span>
        </span>
        <form class="inline" method="post" action="/console/sign-out">
          <button type="submit" class="secondary">
            Sign out
          </button>
        </form>
      </div>
    </header>
  );
}

export interface PageOptions {
  title: string;
  /** The nav entry's href this page belongs to. */
  current: string;
  status?: ContentfulStatusCode;
}

/** A signed-in page: the layout around `body`, with the Cache-Control a page of account data needs. */
export function renderPage(c: Context<AppEnv>, options: PageOptions, body: Child): Response | Promise<Response> {
  c.header('Cache-Control', 'no-store');
  return c.html(
    <Document title={options.title}>
      <Header nav={c.var.consoleNav} current={options.current} principal={c.var.consoleSession.principal} />
      <main id="content">
        <h1>{options.title}</h1>
        {body}
      </main>
    </Document>,
    options.status ?? 200,
  );
}

/** A page outside the session (sign-in). */
export function renderBare(c: Context<AppEnv>, title: string, body: Child, status: 200 | 401 | 503 = 200): Response | Promise<Response> {
  c.header('Cache-Control', 'no-store');
  return c.html(
    <Document title={title}>
      <main id="content">{body}</main>
    </Document>,
    status,
  );
}
