import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { version } from '../../package.json';
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { buildDocument } from '../openapi/document';
import { declareRoute, textContent } from '../openapi/describe';
import { routeGroup } from './route-group';

/**
 * `GET /openapi.json` and `GET /docs` (docs/admin.md): the document, and Swagger UI rendering
 * it. The viewer's files come from the Worker's own static assets (copied from the swagger-ui-dist package by
 * scripts/docs-assets.mjs), so the page works with no internet; its CSP forbids loading anything from
 * elsewhere.
 */

/** Where the viewer's files live, in the assets directory and in URLs. */
const VIEWER_PATH = '/docs/swagger-ui';
/** scripts/docs-assets.mjs copies these (Swagger UI's licence travels with it). */
export const VIEWER_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'favicon-16x16.png', 'LICENSE', 'NOTICE'] as const;

const meta = { tag: 'meta', auth: 'none' } as const;

/**
 * `/openapi.json`, `/docs` and the viewer's files, for the routes declared on `app` (this group
 * included, once mounted). The document is built once per isolate, on first request. Longer than
 * most functions on purpose: it is four short route declarations that share the one document.
 */
export function docsRoutes(app: OpenAPIHono<AppEnv>): OpenAPIHono<AppEnv> {
  const routes = routeGroup();
  let document: Record<string, unknown> | undefined;

  routes.openapi(
    declareRoute({
      method: 'get',
      path: '/openapi.json',
      id: 'openApiDocument',
      summary: 'This OpenAPI 3.1 document',
      ...meta,
      answers: { 200: { description: 'the document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
    }),
    (c) => {
      document ??= buildDocument(app, { version });
      return c.json(document, 200, { 'Access-Control-Allow-Origin': '*' });
    },
  );

  routes.openapi(
    declareRoute({
      method: 'get',
      path: '/docs',
      id: 'docsPage',
      summary: 'A page that renders this document (Swagger UI, served by the gateway itself)',
      ...meta,
      answers: { 200: { description: 'the page', content: textContent('text/html') } },
    }),
    (c) => c.html(PAGE, 200, { 'Content-Security-Policy': CSP }),
  );

  routes.openapi(
    declareRoute({
      method: 'get',
      path: '/docs/init.js',
      id: 'docsScript',
      summary: "The docs page's start-up script",
      ...meta,
      answers: { 200: { description: 'the script', content: textContent('text/javascript') } },
    }),
    (c) => c.body(INIT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }),
  );

  routes.openapi(
    declareRoute({
      method: 'get',
      path: `${VIEWER_PATH}/{file}`,
      id: 'docsViewerFile',
      summary: "The viewer's own files (Swagger UI)",
      ...meta,
      params: z.object({ file: z.string().openapi({ description: VIEWER_FILES.join(', ') }) }),
      answers: { 200: { description: 'the file', content: textContent('*/*') } },
      errors: ['not_found'],
    }),
    viewerFile,
  );

  return routes;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imagegate API</title>
<link rel="icon" type="image/png" href="${VIEWER_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="${VIEWER_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${VIEWER_PATH}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  deepLinking: true,
  validatorUrl: null,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
});
`;

/** Only this origin: a viewer file fetched from a CDN would be blocked (and show as a failed request). */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * In production the assets layer answers these before the Worker runs; this route serves them when
 * the Worker is called directly (tests) and turns a missing file into the usual 404 envelope.
 */
async function viewerFile(c: Context<AppEnv>): Promise<Response> {
  const file = c.req.param('file') ?? '';
  if (!(VIEWER_FILES as readonly string[]).includes(file) || !c.env.ASSETS) throw new ApiError('not_found', `no file '${file}'`);
  const asset = await c.env.ASSETS.fetch(new URL(`${VIEWER_PATH}/${file}`, c.req.url));
  if (!asset.ok) throw new ApiError('not_found', `no file '${file}': run \`npm run docs:assets\``);
  // a fresh Response: the assets binding's headers are immutable, and middleware adds X-Request-Id
  return new Response(asset.body, asset);
}
