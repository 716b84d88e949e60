import { declareRoute, textContent } from '../openapi/describe';
import { routeGroup } from './route-group';

/**
 * `GET /` (docs/operations.md): a small page for whoever opens the gateway in a browser, pointing
 * at the API's document, its viewer and the console, instead of a JSON 404.
 */
export const rootRoutes = routeGroup();

const rootRoute = declareRoute({
  method: 'get',
  path: '/',
  id: 'rootPage',
  summary: 'A page linking the API document and the console',
  tag: 'meta',
  auth: 'none',
  answers: { 200: { description: 'the page', content: textContent('text/html') } },
});

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imagegate</title>
</head>
<body>
<h1>imagegate</h1>
<p>A gateway for text-to-image generation, with budgets, a cache and rate limits per team.</p>
<ul>
<li><a href="/docs">API reference</a> (<a href="/openapi.json">OpenAPI document</a>)</li>
<li><a href="/console">Console</a></li>
</ul>
</body>
</html>
`;

/** Nothing on the page runs or loads: no script, no style, no image. */
const CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

rootRoutes.openapi(rootRoute, (c) => c.html(PAGE, 200, { 'Content-Security-Policy': CSP }));
