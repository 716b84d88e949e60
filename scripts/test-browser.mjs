#!/usr/bin/env node
// `npm run test:browser`: headless Chromium (Debian's `chromium`, driven by playwright-core) against
// the gateway under `wrangler dev` on a free loopback port — the same Worker, static assets and all,
// that `npm run dev` serves. First GET /docs: the page shows every route of /openapi.json and no
// request failed or left this origin. Then the console (scripts/lib/console-check.mjs): sign-in,
// tenants, keys, a generation, the gallery, a webhook and its test delivery, a price version,
// revocation, sign-out, each role's view, the Origin check,
// axe-core, and screenshots to docs/screenshots/. Ends with "N passed, M failed" (exit 1 on any failure).
import { freePort } from './lib/free-port.mjs';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyDocsAssets } from './docs-assets.mjs';
import { checkConsole } from './lib/console-check.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WRANGLER = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HOST = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 90_000;

const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}
function finish(extraFailure) {
  if (extraFailure) check(extraFailure, false);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

if (!existsSync(CHROMIUM)) {
  console.error(`test:browser: no Chromium at ${CHROMIUM}. Install Debian's package: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH).`);
  finish('chromium is installed');
  process.exit(1);
}


const tmp = mkdtempSync(path.join(os.tmpdir(), 'imagegate-browser-'));
const port = Number(process.env.PORT) || (await freePort(HOST));
const inspectorPort = await freePort(HOST);
const base = `http://${HOST}:${port}`;
const adminToken = `test-browser-${randomBytes(18).toString('base64url')}`;
const wranglerEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: 'true' };
copyDocsAssets();

// the console needs the tables: the same migrations `npm run dev` applies, into this run's own state
const migrated = spawnSync(process.execPath, [WRANGLER, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', path.join(tmp, 'state')], { cwd: ROOT, env: wranglerEnv, encoding: 'utf8' });
if (migrated.status !== 0) {
  console.error(`${migrated.stdout}${migrated.stderr}`.slice(-3000));
  finish('the D1 migrations apply');
  process.exit(1);
}

// its own state directory and inspector port, so it never disturbs a running `npm run dev`
const wrangler = spawn(
  process.execPath,
  [WRANGLER, 'dev', '--ip', HOST, '--port', String(port), '--inspector-port', String(inspectorPort), '--persist-to', path.join(tmp, 'state'), '--show-interactive-dev-session=false', '--var', 'ORIGINS:[{"name":"local","kind":"local","models":["*"]}]',
    // a complete configuration, so /healthz answers 200 (an unset image-link secret is a reported problem)
    '--var', `IMAGE_URL_SECRET:${randomBytes(24).toString('base64url')}`, '--var', `ADMIN_TOKEN:${adminToken}`,
    // the console check's webhook goes to a receiver on 127.0.0.1, as in `npm run dev`
    '--var', 'WEBHOOK_ALLOW_LOOPBACK:true'],
  {
    cwd: ROOT,
    env: wranglerEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  },
);
let wranglerLog = '';
wrangler.stdout.on('data', (d) => (wranglerLog += d));
wrangler.stderr.on('data', (d) => (wranglerLog += d));

function stopWrangler() {
  if (wrangler.exitCode === null && wrangler.signalCode === null) {
    try {
      process.kill(-wrangler.pid, 'SIGTERM'); // its own process group: wrangler and its workerd
    } catch {
      // already gone
    }
  }
}
process.on('exit', stopWrangler);

async function waitForGateway() {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (wrangler.exitCode !== null) return false;
    try {
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (r.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

let context;
let browser;
try {
  if (!(await waitForGateway())) {
    console.error(wranglerLog.slice(-3000));
    throw new Error(`the gateway did not answer on ${base}/healthz within ${STARTUP_TIMEOUT_MS / 1000} s`);
  }
  const doc = await (await fetch(`${base}/openapi.json`)).json();
  const expected = Object.entries(doc.paths)
    .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();

  const { chromium } = await import('playwright-core');
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const failed = [];
  const foreign = [];
  const consoleErrors = [];
  page.on('requestfailed', (req) => failed.push(`${req.url()} (${req.failure()?.errorText})`));
  page.on('response', (res) => res.status() >= 400 && failed.push(`${res.url()} → ${res.status()}`));
  page.on('request', (req) => !req.url().startsWith(base) && !req.url().startsWith('data:') && foreign.push(req.url()));
  page.on('console', (msg) => msg.type() === 'error' && consoleErrors.push(msg.text()));
  page.on('pageerror', (err) => consoleErrors.push(err.message));

  const response = await page.goto(`${base}/docs`, { waitUntil: 'networkidle', timeout: 30_000 });
  check('GET /docs answers 200', response?.status() === 200, `status ${response?.status()}`);
  await page.waitForSelector('.opblock', { timeout: 20_000 }).catch(() => undefined);
  const title = (await page.locator('.info .title').first().textContent().catch(() => '')) ?? '';
  check('the page shows the API title', title.includes('imagegate'), JSON.stringify(title.trim()));

  const shown = (
    await page.$$eval('.opblock', (blocks) =>
      blocks.map((b) => {
        const method = b.querySelector('.opblock-summary-method')?.textContent?.trim() ?? '';
        const p = b.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? b.querySelector('.opblock-summary-path')?.textContent?.trim() ?? '';
        return `${method} ${p.replace(/\u200b/g, '')}`;
      }),
    )
  ).sort();
  const missing = expected.filter((r) => !shown.includes(r));
  check(`the route list shows all ${expected.length} operations of /openapi.json`, missing.length === 0 && shown.length === expected.length, missing.length ? `missing: ${missing.join(', ')}` : `${shown.length} shown`);

  const listShot = path.join(os.tmpdir(), `imagegate-docs-${Date.now()}.png`);
  await page.screenshot({ path: listShot, fullPage: true });
  console.log(`screenshot of the route list: ${listShot}`);

  // open the OpenAI route: its body schema (from the zod schema) renders
  await page.locator('#operations-generation-createImagesOpenAI .opblock-summary').click();
  await page.waitForSelector('#operations-generation-createImagesOpenAI .opblock-body', { timeout: 10_000 }).catch(() => undefined);
  const opened = (await page.locator('#operations-generation-createImagesOpenAI').textContent().catch(() => '')) ?? '';
  check('an opened operation shows its request body and error answers', opened.includes('negative_prompt') && opened.includes('budget_exceeded'));
  await page.waitForLoadState('networkidle');

  check('no request failed', failed.length === 0, failed.join('; '));
  check('no request left the gateway (no CDN)', foreign.length === 0, foreign.join('; '));
  check('no script or CSP error on the page', consoleErrors.length === 0, consoleErrors.join('; ').slice(0, 500));

  const opShot = path.join(os.tmpdir(), `imagegate-docs-operation-${Date.now()}.png`);
  await page.locator('#operations-generation-createImagesOpenAI').screenshot({ path: opShot });
  console.log(`screenshot of an opened operation: ${opShot}`);

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  await checkConsole({ newContext: () => browser.newContext(), base, adminToken, check, screenshots: path.join(ROOT, 'docs', 'screenshots') });
  finish();
} catch (err) {
  finish(`the browser test ran to the end (${err.message})`);
} finally {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  stopWrangler();
  rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
}
