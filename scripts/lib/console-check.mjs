// The console's browser checks (docs/console.md), run by scripts/test-browser.mjs against a gateway
// under `wrangler dev`: the real flows through headless Chromium, each role's view, the Origin
// check, no request to another host, axe-core on every page, and a screenshot of each page in light
// and dark, at desktop and phone width, saved to docs/screenshots/.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
const SCHEMES = ['light', 'dark'];
const DELIVERY_WAIT_MS = 30_000;

/** A webhook receiver on 127.0.0.1 that answers 204 and counts what it got. */
async function startReceiver() {
  const got = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ id: req.headers['webhook-id'], body });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/hooks/console`, got, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * @param {object} o
 * @param {() => Promise<import('playwright-core').BrowserContext>} o.newContext a fresh browser context (its own cookies)
 * @param {string} o.base the gateway's origin
 * @param {string} o.adminToken
 * @param {(name: string, ok: boolean, detail?: string) => void} o.check
 * @param {string} o.screenshots where the PNGs go
 */
export async function checkConsole({ newContext, base, adminToken, check, screenshots }) {
  mkdirSync(screenshots, { recursive: true });
  const api = async (method, p, body, token = adminToken) => {
    const r = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  };
  const generate = (key, prompt, extra = {}, headers = {}) =>
    fetch(`${base}/image/generation`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify({ positive_prompt: prompt, width: 512, height: 512, steps: 30, ...extra }),
    });

  const foreign = [];
  const watch = (page) => {
    trackLoads(page);
    page.on('request', (req) => !req.url().startsWith(base) && !req.url().startsWith('data:') && foreign.push(req.url()));
  };
  const pagesSeen = new Map(); // name → url, for the screenshots and axe at the end

  // ------------------------------------------------------------ the owner's flow
  const owner = await newContext();
  const page = await owner.newPage();
  watch(page);
  await page.setViewportSize(VIEWPORTS.desktop);
  await page.goto(`${base}/console`);
  check('console: without a session, /console leads to the sign-in form', page.url() === `${base}/console/sign-in`, page.url());
  pagesSeen.set('sign-in', `${base}/console/sign-in`);
  await shootAll(page, 'sign-in', screenshots);

  await page.getByLabel(/ADMIN_TOKEN or an admin token/).fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  check('console: a wrong token shows the form again with an error', (await page.getByRole('alert').textContent())?.includes('Not signed in') === true);

  await page.getByLabel(/ADMIN_TOKEN or an admin token/).fill(adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  check('console: signing in shows the overview', (await page.locator('h1').textContent()) === 'Overview', page.url());
  const cookies = await owner.cookies();
  const session = cookies.find((c) => c.name === 'imagegate_console');
  check('console: the session cookie is HttpOnly and SameSite=Strict, and holds no token', !!session && session.httpOnly && session.sameSite === 'Strict' && !session.value.includes(adminToken));
  const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
  check('console: the browser stores no token (no script-readable cookie, no web storage)', !stored.includes(adminToken) && !stored.includes('imagegate_console'), stored);

  // create two tenants through the forms
  const tenantIds = {};
  for (const [name, budget] of [['Design team', '20'], ['Research', '5']]) {
    await page.goto(`${base}/console/tenants`);
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Budget (USD, or none)').fill(budget);
    await page.getByRole('button', { name: 'Create tenant' }).click();
    tenantIds[name] = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    check(`console: creating tenant ${name} leads to its page`, (await page.locator('h1').textContent()) === name && tenantIds[name].startsWith('ten_'), page.url());
  }
  const designPath = `/console/tenants/${encodeURIComponent(tenantIds['Design team'])}`;

  // a key, shown once
  const keys = {};
  for (const [tenant, keyName] of [['Design team', 'ci'], ['Research', 'notebooks']]) {
    await page.goto(`${base}/console/tenants/${encodeURIComponent(tenantIds[tenant])}`);
    await page.getByLabel('Key name').fill(keyName);
    await page.getByRole('button', { name: 'Create key' }).click();
    keys[tenant] = ((await page.locator('#new-key').textContent()) ?? '').trim();
    check(`console: a new key for ${tenant} is shown with a copy button`, /^igk_/.test(keys[tenant]) && (await page.getByRole('button', { name: 'Copy' }).count()) === 1);
  }
  await shootOne(page, 'tenant-new-key-light-desktop', screenshots);
  await page.goto(`${base}${designPath}`);
  check('console: the key plaintext is not shown again', !(await page.content()).includes(keys['Design team']));

  // generations with the new keys, from outside the browser, as a client would
  const prompts = ['a lighthouse in a storm, oil painting', 'a red fox in fresh snow', 'a city of glass at dusk', 'an astronaut on a desolate plain'];
  let generated = 0;
  for (const [i, prompt] of prompts.entries()) {
    const r = await generate(keys['Design team'], prompt, { seed: 40 + i }, { 'Imagegate-Tags': `project=${i % 2 ? 'checkout' : 'search'}` });
    if (r.ok) generated++;
  }
  const again = await generate(keys['Design team'], prompts[0], { seed: 40 }, { 'Imagegate-Tags': 'project=search' });
  for (const prompt of ['a field of sunflowers', 'a quiet harbour at dawn']) if ((await generate(keys.Research, prompt, { seed: 3 })).ok) generated++;
  check('console: generations with the new keys succeed', generated === 6 && again.ok && (await again.json()).cache === 'hit');

  await page.goto(`${base}${designPath}`);
  const summary = (await page.locator('main > p').first().textContent()) ?? '';
  check('console: the tenant page shows the spend', /spent 0\.0\d+ USD/.test(summary) && !/spent 0 USD/.test(summary), summary);
  const thumbs = page.locator('.gallery img');
  await page.waitForFunction(() => [...document.querySelectorAll('.gallery img')].every((i) => i.complete), null, { timeout: 10_000 }).catch(() => undefined);
  const loaded = await thumbs.evaluateAll((imgs) => imgs.filter((i) => i.naturalWidth > 0).length);
  check('console: the gallery shows the new thumbnails through signed links', loaded === 5 && (await page.locator('.gallery').textContent()).includes('a red fox in fresh snow'), `${loaded} loaded`);
  pagesSeen.set('tenant', `${base}${designPath}`);

  // revoke the key
  await page.getByRole('button', { name: 'Revoke key ci' }).click();
  const revokedText = (await page.locator('.notice.ok').textContent()) ?? '';
  const afterRevoke = await generate(keys['Design team'], 'after revoke', { seed: 1 });
  check('console: revoking the key stops it at once', revokedText.includes('revoked') && afterRevoke.status === 401, `generation answered ${afterRevoke.status}`);

  // a foreign Origin is refused, with this session's cookie
  const forged = await page.request.post(`${base}/console/tenants`, { headers: { origin: 'https://evil.example' }, form: { name: 'forged' } });
  const tenantsNow = await api('GET', '/admin/tenants');
  check('console: a form POST with a foreign Origin is refused (403) and creates nothing', forged.status() === 403 && !tenantsNow.json.data.some((t) => t.name === 'forged'), `status ${forged.status()}`);

  const webhookPath = await webhookFlow(page, base, tenantIds['Design team'], check);
  if (webhookPath) pagesSeen.set('webhook', `${base}${webhookPath}`);
  await priceFlow(page, base, check);

  // the keyboard: the first Tab reaches the skip link, and it is visibly focused
  await page.goto(`${base}/console`);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => ({ text: document.activeElement?.textContent, outline: getComputedStyle(document.activeElement).outlineStyle }));
  check('console: the keyboard reaches a visible skip link first', focused.text === 'Skip to content' && focused.outline !== 'none', JSON.stringify(focused));

  pagesSeen.set('overview', `${base}/console`);
  pagesSeen.set('tenants', `${base}/console/tenants`);
  pagesSeen.set('models', `${base}/console/models`);
  pagesSeen.set('webhooks', `${base}/console/webhooks`);
  pagesSeen.set('audit', `${base}/console/audit`);
  for (const [name, url] of pagesSeen) {
    if (!url) continue;
    await page.goto(url);
    await shootAll(page, name, screenshots);
  }
  await axeEvery(page, pagesSeen, check);

  await page.goto(`${base}/console`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.goto(`${base}/console/tenants`);
  check('console: after sign-out the old session leads to the sign-in form', page.url() === `${base}/console/sign-in`, page.url());
  await owner.close();

  // ------------------------------------------------------------ a viewer and a tenant admin
  const viewer = await api('POST', '/admin/admins', { name: 'Dashboards', role: 'viewer' });
  const ta = await api('POST', '/admin/admins', { name: 'Research lead', role: 'tenant_admin', tenant_id: tenantIds.Research });
  await asPrincipal(newContext, base, viewer.json.token, watch, async (p) => {
    const changing = [];
    const pages = [`${base}/console`, `${base}/console/tenants`, `${base}${designPath}`, `${base}/console/models`, `${base}/console/webhooks`, `${base}/console/audit`];
    if (webhookPath) pages.push(`${base}${webhookPath}`);
    for (const url of pages) {
      await p.goto(url);
      const forms = await p.$$eval('form', (fs) => fs.filter((f) => f.method === 'post' && !f.action.endsWith('/console/sign-out')).map((f) => f.action));
      const buttons = await p.$$eval('button', (bs) => bs.filter((b) => !b.closest('form[action$="/console/sign-out"]') && !b.closest('form[method="get"]')).map((b) => b.textContent));
      changing.push(...forms, ...buttons);
    }
    check('console: a viewer sees every page and no control that changes data', changing.length === 0, changing.join(', '));
    await p.goto(`${base}${designPath}`);
    await shootOne(p, 'tenant-viewer-light-desktop', screenshots);
  });
  await asPrincipal(newContext, base, ta.json.token, watch, async (p) => {
    await p.goto(`${base}/console/tenants`);
    const listed = await p.locator('tbody th a').allTextContents();
    const other = await p.goto(`${base}${designPath}`);
    check('console: a tenant admin sees only its tenant; another tenant is 404', listed.join() === 'Research' && other.status() === 404, `listed ${listed.join()}, other ${other.status()}`);
    await p.goto(`${base}/console/webhooks`);
    const hooks = await p.locator('tbody th a').count();
    const foreignHook = webhookPath ? await p.goto(`${base}${webhookPath}`) : null;
    check("console: a tenant admin sees none of another tenant's webhooks", hooks === 0 && foreignHook?.status() === 404, `${hooks} listed, other ${foreignHook?.status()}`);
  });

  check('console: no request left the gateway for another host', foreign.length === 0, foreign.join('; '));
}

/**
 * The webhooks page: add an endpoint for `tenantId` aimed at a receiver started here (its secret
 * shown once), send a test event, and reload until its delivery row appears (bounded). Returns the
 * endpoint page's path.
 */
async function webhookFlow(page, base, tenantId, check) {
  const receiver = await startReceiver();
  try {
    await page.goto(`${base}/console/webhooks`);
    check('console: the webhooks page says what to do when there is none', ((await page.locator('.empty').textContent()) ?? '').includes('No webhooks yet'));
    await page.getByLabel('URL').fill(receiver.url);
    await page.getByLabel('Tenant').selectOption(tenantId);
    await page.getByLabel('Description').fill('Budget alerts to the design channel');
    for (const type of ['budget.threshold', 'budget.refused', 'webhook.test']) await page.getByRole('checkbox', { name: type }).check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const secret = ((await page.locator('#new-secret').textContent()) ?? '').trim();
    check('console: a new webhook shows its secret once, with a copy button', /^whsec_/.test(secret) && (await page.getByRole('button', { name: 'Copy' }).count()) === 1);
    // the answer to the form is the new endpoint's page; its test form names its path
    const webhookPath = ((await page.locator('form[action$="/test"]').getAttribute('action')) ?? '').replace(/\/test$/, '');
    await page.goto(`${base}${webhookPath}`);
    check('console: the secret is not shown again', !(await page.content()).includes(secret));
    await page.getByRole('button', { name: 'Send a test event' }).click();
    const deadline = Date.now() + DELIVERY_WAIT_MS;
    let row = 0;
    while (Date.now() < deadline && row === 0) {
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
      row = await page.locator('tbody tr', { hasText: 'webhook.test' }).filter({ hasText: 'ok' }).count();
    }
    check('console: a test event reaches the receiver and its delivery row appears after a reload', row === 1 && receiver.got.length === 1, `${row} rows, ${receiver.got.length} received`);
    return webhookPath;
  } finally {
    await receiver.close();
  }
}

/** The models page: a future price through the form becomes a new version in the table. */
async function priceFlow(page, base, check) {
  await page.goto(`${base}/console/models`);
  const rowsBefore = await page.locator('table tbody tr').count();
  const form = page.locator('form[action="/console/models/price"]').first();
  await form.getByLabel('USD per megapixel').fill('0.0025');
  await form.getByLabel(/In force from/).fill('2030-01-01T00:00');
  await form.getByRole('button').click();
  const notice = (await page.locator('.notice.ok').textContent().catch(() => '')) ?? '';
  const rowsAfter = await page.locator('table tbody tr').count();
  check('console: the price form adds a future price version', notice.includes('Price set') && rowsAfter === rowsBefore + 1 && (await page.content()).includes('2030-01-01 00:00 UTC'), `${rowsBefore} → ${rowsAfter} rows`);
}

async function asPrincipal(newContext, base, token, watch, body) {
  const context = await newContext();
  const p = await context.newPage();
  watch(p);
  await p.setViewportSize(VIEWPORTS.desktop);
  await p.goto(`${base}/console/sign-in`);
  await p.getByLabel(/ADMIN_TOKEN or an admin token/).fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await body(p);
  await context.close();
}

async function shootOne(page, name, dir) {
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

/** Each page's requests still loading, so a page that never goes quiet can say what it waits for. */
const inFlight = new WeakMap();

function trackLoads(page) {
  const pending = new Set();
  inFlight.set(page, pending);
  page.on('request', (req) => pending.add(req.url()));
  page.on('requestfinished', (req) => pending.delete(req.url()));
  page.on('requestfailed', (req) => pending.delete(req.url()));
}

/** Light and dark, desktop and phone: four PNGs per page. */
async function shootAll(page, name, dir) {
  const pending = inFlight.get(page) ?? new Set();
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(viewport);
      await page.waitForLoadState('networkidle').catch((err) => {
        throw new Error(`${name} (${scheme}, ${size}) never went quiet: ${err.message.split('\n')[0]}; still loading: ${[...pending].join(', ') || 'nothing the page asked for'}`);
      });
      // the viewport only: what a person sees first, and small enough to commit
      await page.screenshot({ path: path.join(dir, `${name}-${scheme}-${size}.png`) });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(VIEWPORTS.desktop);
}

/** axe-core on every page, in both schemes: no serious or critical violation. */
async function axeEvery(page, pages, check) {
  for (const [name, url] of pages) {
    if (!url) continue;
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(url);
      const { violations } = await new AxeBuilder({ page }).analyze();
      const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      check(`console: axe finds no serious or critical violation on ${name} (${scheme})`, bad.length === 0, bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`).join('; '));
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
