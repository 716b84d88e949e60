/**
 * `npm run bench -- --soak [--seconds 120]`: a mixed load (misses, hits, bypasses, estimates, usage,
 * both generation routes, idempotent retries, invalid bodies) from several tenants and keys, some
 * with budgets that run out and some with rpm / max_concurrent limits, while two origins misbehave
 * on a schedule (500s, hangs past a 500 ms timeout, garbage bytes, JSON without an image). Most
 * requests carry `Imagegate-Tags` (a project and a feature), some keys have `default_tags`, and the
 * OpenAI route sends `user`, so the per-tag reports have something to split. Then the checks in
 * soak-checks.mjs; exits non-zero on any violation. Every event the run causes (budget thresholds,
 * refusals, key events) is delivered through the webhook queue to a receiver that fails some
 * attempts (soak-webhooks.mjs, receiver.mjs), and the checks follow each one to its delivery.
 */
import { runChecks } from './soak-checks.mjs';
import { keyEvents, receiverSummary, startWebhooks, waitForDeliveries } from './soak-webhooks.mjs';
import { startStack } from './stack.mjs';
import { MODEL, client, genBody, isImage, withHarness, workerLog, writeJson } from './setup.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CLIENT_TIMEOUT_MS = 20_000;

/**
 * Tenants and keys; budgets in USD (one 1024×1024, 30-step image costs 0.001992295). Some budgets
 * carry many `alert_thresholds`, so the load crosses thresholds while concurrent requests settle
 * together; the checks count one budget.threshold event per crossing (docs/webhooks.md).
 */
const EVERY_TENTH = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
const PLAN = [
  { tenant: { name: 'soak-rich', budget_usd: '1000', budget_period: 'month' }, keys: [{ name: 'rich-a', default_tags: { project: 'rich-default', team: 'rich' } }, { name: 'rich-rpm', rate_limit_rpm: 120 }, { name: 'rich-conc', max_concurrent: 2 }, { name: 'rich-alerts', budget_usd: '0.08', budget_period: 'month', alert_thresholds: EVERY_TENTH }] },
  { tenant: { name: 'soak-tight', budget_usd: '0.05', budget_period: 'none', alert_thresholds: [25, 50, 75, 90, 100] }, keys: [{ name: 'tight-key-budget', budget_usd: '0.02', budget_period: 'none', alert_thresholds: EVERY_TENTH }, { name: 'tight-tenant-budget' }, { name: 'tight-zero', budget_usd: '0', budget_period: 'none' }] },
  { tenant: { name: 'soak-limited', rate_limit_rpm: 90, max_concurrent: 3 }, keys: [{ name: 'limited-a' }, { name: 'limited-b', rate_limit_rpm: 20, max_concurrent: 1 }] },
  { tenant: { name: 'soak-shared-1', budget_usd: '0.5', budget_period: 'month', cache_scope: 'shared', alert_thresholds: [1, 2, 5, 10, 20, 50] }, keys: [{ name: 'shared1-a', budget_usd: '0.1', budget_period: 'month', alert_thresholds: EVERY_TENTH }] },
  { tenant: { name: 'soak-shared-2', budget_usd: '0.5', budget_period: 'month', cache_scope: 'shared' }, keys: [{ name: 'shared2-a', default_tags: { team: 'shared' } }] },
];

/** The tenant whose own webhook endpoint watches it (besides the global one). */
const WATCHED_TENANT = 'soak-tight';
/** The webhook retry schedule is 1, 3, 9, 27, 81 s (docs/webhooks.md), 121 s in all before the last attempt. */
const WEBHOOK_ENV = { WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_RETRY_BASE_SECONDS: '1' };

/** The tags the load carries: about a third of the requests none (the key's defaults, if any, or the group ""). */
export const SOAK_PROJECTS = ['checkout', 'search', 'ads'];
const FEATURES = ['thumbs', 'hero'];

function tagHeader() {
  if (Math.random() < 0.35) return {};
  return { 'imagegate-tags': `project=${pick(SOAK_PROJECTS)}, feature=${pick(FEATURES)}` };
}

const PRIMARY = ['png', '500', 'png', 'hang', 'garbage', 'png', 'mix', 'json-garbage', 'hang', 'png', '500', 'png'];
const BACKUP = ['png', 'png', '500', 'hang', 'png', 'garbage', 'png', '500', 'hang', 'mix', 'png', 'png'];

export async function runSoak({ seconds, storageFaults = 0, webhookFailures, outFile }) {
  const started = Date.now();
  return withHarness(async (h) => {
    const { origin } = h;
    const origins = [
      { name: 'primary', kind: 'qubrid', url: `${origin.url}/o/primary`, models: ['*'], timeout_ms: 500, breaker_failures: 5, breaker_cooldown_ms: 2_000 },
      { name: 'backup', kind: 'qubrid', url: `${origin.url}/o/backup`, models: ['*'], timeout_ms: 500, breaker_failures: 5, breaker_cooldown_ms: 2_000 },
    ];
    const logFile = outFile.replace(/\.json$/, '') + '-worker.log';
    const stack = (h.stack = await startStack({ dir: h.dir, origins, logFile, instrumented: storageFaults > 0, extraBindings: WEBHOOK_ENV }));
    const gw = client(stack.gatewayUrl);
    const hooks = await startWebhooks(gw, webhookFailures === undefined ? {} : { failFraction: webhookFailures });
    try {
      return await soakWith({ h, stack, gw, hooks, seconds, storageFaults, outFile, logFile, started });
    } finally {
      hooks.stop();
    }
  });
}

/** The run itself, once the stack and the webhook receiver are up. */
async function soakWith({ h, stack, gw, hooks, seconds, storageFaults, outFile, logFile, started }) {
  const { origin } = h;
  const { tenants, keys } = await createTenants(gw, hooks);
  const routes = await probeRoutes(gw, keys[0]);

  // storage faults from here on: the tenants, keys and route probes above are set up without them
  if (storageFaults > 0) await benchControl(stack, 'config', { faults: storageFaults });
  const deadline = Date.now() + seconds * 1000;
  const phaseMs = Math.min(10_000, Math.max(2_000, Math.round((seconds * 1000) / PRIMARY.length)));
  const schedule = [];
  const faults = (async () => {
    for (let i = 0; Date.now() < deadline; i++) {
      const modes = { primary: PRIMARY[i % PRIMARY.length], backup: BACKUP[i % BACKUP.length] };
      await origin.setModes(modes).catch(() => undefined);
      schedule.push({ at_s: Math.round((Date.now() - started) / 100) / 10, ...modes });
      await sleep(Math.min(phaseMs, Math.max(0, deadline - Date.now())));
    }
  })();

  const results = [];
  let seed = 100_000;
  const record = (r) => results.push(r);
  const one = () => request(stack.gatewayUrl, pick(keys), routes, () => seed++, record);
  const workers = Array.from({ length: 12 }, async () => {
    while (Date.now() < deadline) await one();
  });
  await Promise.all(workers);
  await faults;
  await origin.setModes({ primary: 'png', backup: 'png' });
  const originStats = await origin.stats();
  const storageFaultReport = storageFaults > 0 ? await endFaults(stack) : await runCron(stack, new Date());
  // the cron has sent what the requests could not; now every event's deliveries, retries included
  const deliveries = await waitForDeliveries(async (sql, ...args) => (await (await stack.db()).prepare(sql).bind(...args).all()).results, hooks.endpoints);

  const report = await runChecks({ stack, gw, tenants, keys, results, routes, logFile, storageFaults: storageFaultReport && { fraction: storageFaults, ...storageFaultReport }, webhooks: { hooks, deliveries } });
  report.seconds = seconds;
  report.requests = results.length;
  report.schedule = schedule;
  report.origin_calls = originStats;
  report.webhook_receiver = receiverSummary(hooks.receiver);
  report.worker_log = workerLog(stack.stdio);
  report.total_seconds = Math.round((Date.now() - started) / 100) / 10;
  writeJson(outFile, report);
  console.log(`soak: ${report.total_seconds} s in all; details in ${outFile}, the Worker's log in ${logFile}`);
  return report;
}

/** The PLAN's tenants and keys; the watched tenant's webhook endpoint before its keys, so it gets their key.created events. */
async function createTenants(gw, hooks) {
  const keys = [];
  const tenants = [];
  for (const p of PLAN) {
    const t = await gw.tenant(p.tenant);
    tenants.push({ ...t, plan: p.tenant });
    if (p.tenant.name === WATCHED_TENANT) await hooks.addTenantEndpoint(t.id);
    for (const k of p.keys) keys.push({ ...(await gw.key(t.id, k)), tenantName: t.name, plan: k });
  }
  await keyEvents(gw, [tenants.find((t) => t.name === WATCHED_TENANT).id, tenants[0].id]);
  return { tenants, keys };
}

/** Which optional routes this build has. */
async function probeRoutes(gw, key) {
  const routes = {};
  for (const [name, method, path] of [
    ['estimate', 'POST', '/v1/estimate'],
    ['openai', 'POST', '/v1/images/generations'],
    ['usage', 'GET', '/v1/usage'],
    ['admin_usage', 'GET', '/admin/usage'],
  ]) {
    const r = await gw.call(method, path, name === 'admin_usage' ? { admin: true } : { key: key.key, json: method === 'POST' ? {} : undefined });
    routes[name] = !(r.status === 404 && r.body?.error?.code === 'not_found' && /no route/.test(r.body.error.message));
  }
  return routes;
}

/** The instrumented gateway's control routes (bench/count-entry.js). */
async function benchControl(stack, path, body) {
  const r = await fetch(`${stack.gatewayUrl}/__bench/${path}`, body ? { method: 'POST', body: JSON.stringify(body) } : {});
  if (!r.ok) throw new Error(`/__bench/${path}: ${r.status}`);
  return r.json();
}

/**
 * After a load with storage faults: stop injecting them, let the requests' waitUntil work finish,
 * and run the cron once with a clock a day ahead, as production's cron would once the
 * reservations of requests that could not settle or release have expired. Returns what the
 * wrapper threw and what the cron gave back.
 */
async function endFaults(stack) {
  await benchControl(stack, 'config', { faults: 0 });
  await sleep(3_000);
  const { faults_thrown: thrown, counts } = await benchControl(stack, 'counts');
  const db = await stack.db();
  const held = async () => (await db.prepare('SELECT (SELECT COALESCE(SUM(reserved_nano), 0) FROM api_keys) + (SELECT COALESCE(SUM(reserved_nano), 0) FROM tenants) AS r').first()).r;
  const heldBefore = await held();
  await runCron(stack, new Date(Date.now() + 86_400_000));
  return { thrown, storage_calls: counts, held_before_cron_nano: String(heldBefore), held_after_cron_nano: String(await held()) };
}

/** One run of the minute cron (it also sends the outbox's pending events to the queue). Returns null. */
async function runCron(stack, scheduledTime) {
  const worker = await stack.mf.getWorker('gateway');
  await worker.scheduled({ scheduledTime, cron: '* * * * *' });
  return null;
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

const POOL_PROMPT = 'soak shared pool';

/** One client action; records what came back. Never throws. */
async function request(base, key, routes, nextSeed, record) {
  const roll = Math.random();
  const t0 = Date.now();
  const auth = { authorization: `Bearer ${key.key}`, ...tagHeader() };
  const rec = { key: key.name, tenant: key.tenantName };
  let action = 'request';
  const as = (name) => {
    action = name;
    return { ...rec, action: name };
  };
  try {
    if (roll < 0.35) return record({ ...as('miss'), ...(await qubrid(base, auth, genBody(`soak ${key.tenantName}`, nextSeed()))) });
    if (roll < 0.6) return record({ ...as('pool'), ...(await qubrid(base, auth, genBody(POOL_PROMPT, 1 + Math.floor(Math.random() * 6)))) });
    if (roll < 0.65) return record({ ...as('bypass'), ...(await qubrid(base, auth, genBody(`soak ${key.tenantName}`, undefined))) });
    if (roll < 0.69) return record({ ...as('no-cache'), ...(await qubrid(base, auth, genBody(POOL_PROMPT, 1), { 'cache-control': 'no-cache' })) });
    if (roll < 0.71) return record({ ...as('no-store'), ...(await qubrid(base, auth, genBody(POOL_PROMPT, 2), { 'cache-control': 'no-store' })) });
    if (roll < 0.74) {
      const body = genBody(`soak idem ${key.tenantName}`, nextSeed(), { steps: 40 });
      const idem = { 'idempotency-key': `soak-${Math.random().toString(36).slice(2)}` };
      record({ ...as('idempotent'), ...(await qubrid(base, auth, body, idem)) });
      return record({ ...as('idempotent-retry'), ...(await qubrid(base, auth, body, idem)) });
    }
    if (roll < 0.78) return record({ ...as('invalid'), ...(await qubrid(base, auth, genBody('soak invalid', 5, { steps: 1000 }))) });
    if (roll < 0.86 && routes.estimate) return record({ ...as('estimate'), ...(await plainJson(base, 'POST', '/v1/estimate', auth, genBody(POOL_PROMPT, 3))) });
    if (roll < 0.9 && routes.usage) return record({ ...as('usage'), ...(await plainJson(base, 'GET', '/v1/usage', auth)) });
    if (routes.openai) {
      const n = Math.random() < 0.5 ? 1 : 2;
      const body = { model: MODEL, prompt: Math.random() < 0.5 ? POOL_PROMPT : `soak openai ${key.tenantName}`, n, size: '1024x1024', seed: Math.random() < 0.5 ? 1 + Math.floor(Math.random() * 6) : nextSeed(), user: `user-${Math.floor(Math.random() * 3)}` };
      return record({ ...as(`openai n=${n}`), ...(await openai(base, auth, body)) });
    }
    return record({ ...as('miss'), ...(await qubrid(base, auth, genBody(`soak ${key.tenantName}`, nextSeed()))) });
  } catch (err) {
    const error = err.name === 'TimeoutError' ? 'client timeout' : `${err.message ?? err}${err.cause ? ` (${err.cause.code ?? err.cause.message ?? err.cause})` : ''}`;
    return record({ ...rec, action, status: 0, error, ms: Date.now() - t0 });
  }
}

function common(res, t0) {
  return {
    status: res.status,
    cost: res.headers.get('imagegate-cost-usd'),
    cacheStatus: res.headers.get('cache-status'),
    replayed: res.headers.get('idempotent-replayed') === 'true',
    retryAfter: res.headers.get('retry-after'),
    requestId: res.headers.get('x-request-id'),
    ms: Date.now() - t0,
  };
}

async function qubrid(base, auth, body, headers = {}) {
  const t0 = Date.now();
  const res = await fetch(`${base}/image/generation`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const out = common(res, t0);
  const type = res.headers.get('content-type') ?? '';
  if (res.status === 200) out.image = type.startsWith('image/') && isImage(bytes);
  else out.code = errorCode(bytes);
  return out;
}

async function openai(base, auth, body) {
  const t0 = Date.now();
  const res = await fetch(`${base}/v1/images/generations`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const out = common(res, t0);
  if (res.status === 200) {
    const json = JSON.parse(new TextDecoder().decode(bytes));
    out.image = Array.isArray(json.data) && json.data.length === body.n && json.data.every((d) => typeof d.b64_json === 'string' && isImage(Buffer.from(d.b64_json.slice(0, 64), 'base64')));
    out.dataCache = json.data?.map((d) => d.cache);
  } else out.code = errorCode(bytes);
  return out;
}

async function plainJson(base, method, path, auth, body) {
  const t0 = Date.now();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const out = common(res, t0);
  if (res.status !== 200) out.code = errorCode(bytes);
  return out;
}

function errorCode(bytes) {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))?.error?.code ?? 'no error code';
  } catch {
    return 'not JSON';
  }
}
