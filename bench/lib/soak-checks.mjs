/**
 * What the soak checks once the load has stopped: through the API where it shows the figure
 * (GET /v1/usage per key, GET /admin/usage, GET /admin/tenants/{id}), and straight from D1 and R2
 * (through Miniflare) where it does not. Money is compared as bigint nano-USD.
 */
import { readFileSync } from 'node:fs';
import { isImage, usdToNano } from './setup.mjs';
import { webhookChecks } from './soak-webhooks.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const OK_5XX = new Set([502, 504]);

/**
 * @param {object} [o.storageFaults] when the soak made storage calls throw: { fraction, thrown,
 *   held_before_cron_nano, held_after_cron_nano }. Then a 503 `unavailable` is a right answer too.
 * @param {object} [o.webhooks] { hooks, deliveries }: the soak's webhook endpoints and receiver
 *   (soak-webhooks.mjs) and what the wait for their deliveries came to.
 */
export async function runChecks({ stack, gw, tenants, keys, results, routes, logFile, storageFaults = null, webhooks = null }) {
  const checks = [];
  const check = (name, ok, detail = '') => checks.push({ name, result: ok === null ? 'skip' : ok ? 'pass' : 'fail', detail });
  const db = await stack.db();
  const q = async (sql, ...args) => (await db.prepare(sql).bind(...args).all()).results;
  const tenantIds = tenants.map((t) => t.id);
  const inTenants = `(${tenantIds.map(() => '?').join(',')})`;

  // ---------------------------------------------------------------- what the clients saw
  const tally = {};
  for (const r of results) tally[`${r.action} ${r.status}${r.code ? ` ${r.code}` : ''}`] = (tally[`${r.action} ${r.status}${r.code ? ` ${r.code}` : ''}`] ?? 0) + 1;
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  // a storage call that fails answers 503 `unavailable` (docs/errors.md); nothing else may be a 5xx
  const okFault = (r) => storageFaults && r.status === 503 && r.code === 'unavailable';
  const bad5xx = results.filter((r) => r.status >= 500 && !OK_5XX.has(r.status) && !okFault(r));
  check(`no 5xx other than 502/504${storageFaults ? ' and 503 unavailable' : ''}`, bad5xx.length === 0, bad5xx.length ? summarize(bad5xx) : `502×${statuses[502] ?? 0}, 504×${statuses[504] ?? 0}, 503×${statuses[503] ?? 0}`);
  if (storageFaults) {
    check(
      `storage faults were injected (${storageFaults.fraction} of D1/R2/DO calls)`,
      storageFaults.thrown > 0,
      `${storageFaults.thrown} calls threw; held before the cron ${storageFaults.held_before_cron_nano} nano-USD, after ${storageFaults.held_after_cron_nano}`,
    );
  }
  const noAnswer = results.filter((r) => r.status === 0);
  check('every request answered (no hang past 20 s, no dropped connection)', noAnswer.length === 0, noAnswer.length ? summarize(noAnswer, 'error') : `${results.length} answered`);
  const costOf = (r) => (r.cost === null || r.cost === undefined ? 0n : usdToNano(r.cost) ?? -1n);
  const chargedFailures = results.filter((r) => r.status !== 200 && costOf(r) !== 0n);
  check('no charge on a failed or refused request (Imagegate-Cost-USD)', chargedFailures.length === 0, chargedFailures.length ? summarize(chargedFailures) : '');
  const chargedHits = results.filter((r) => r.status === 200 && /;\s*hit/.test(r.cacheStatus ?? '') && !r.action.startsWith('openai') && costOf(r) !== 0n);
  check('no charge on a cache hit or coalesced answer', chargedHits.length === 0, chargedHits.length ? summarize(chargedHits) : `${results.filter((r) => /;\s*hit/.test(r.cacheStatus ?? '')).length} hits`);
  const replays = results.filter((r) => r.replayed);
  const chargedReplays = replays.filter((r) => costOf(r) !== 0n);
  check('no second charge for an idempotent retry', chargedReplays.length === 0, `${replays.length} replays${chargedReplays.length ? `, ${chargedReplays.length} charged` : ''}`);
  const notImages = results.filter((r) => r.status === 200 && r.image === false);
  check('every 200 generation answer is an image (PNG/JPEG/WebP magic)', notImages.length === 0, notImages.length ? summarize(notImages) : '');

  const runtime = stack.stdio.runtime;
  check('workerd reported no uncaught exception or dropped request', runtime === 0, runtime ? `${runtime} lines, e.g. ${stack.stdio.runtimeSamples.slice(0, 3).join(' | ')}` : '');

  // ---------------------------------------------------------------- settle, then the books
  let reserved = null;
  for (let i = 0; i < 30; i++) {
    const [k] = await q(`SELECT COALESCE(SUM(reserved_nano), 0) AS r FROM api_keys WHERE tenant_id IN ${inTenants}`, ...tenantIds);
    const [t] = await q(`SELECT COALESCE(SUM(reserved_nano), 0) AS r FROM tenants WHERE id IN ${inTenants}`, ...tenantIds);
    reserved = BigInt(k.r) + BigInt(t.r);
    if (reserved === 0n) break;
    await sleep(500);
  }
  const keyRows = await q(`SELECT id, name, tenant_id, budget_nano, spent_nano, reserved_nano FROM api_keys WHERE tenant_id IN ${inTenants}`, ...tenantIds);
  const tenantRows = await q(`SELECT id, name, budget_nano, spent_nano, reserved_nano FROM tenants WHERE id IN ${inTenants}`, ...tenantIds);
  check('reserved back to 0 on every key and tenant (D1, after ≤ 15 s)', reserved === 0n, rowsWhere([...keyRows, ...tenantRows], (r) => BigInt(r.reserved_nano) !== 0n, 'reserved_nano'));
  const over = [...keyRows, ...tenantRows].filter((r) => r.budget_nano !== null && BigInt(r.spent_nano) + BigInt(r.reserved_nano) > BigInt(r.budget_nano));
  check('spent + reserved ≤ budget for every key and tenant (D1)', over.length === 0, over.length ? over.map((r) => `${r.name}: ${r.spent_nano}+${r.reserved_nano} > ${r.budget_nano}`).join('; ') : budgetsLine(keyRows, tenantRows));
  const tables = new Set((await q("SELECT name FROM sqlite_master WHERE type = 'table'")).map((r) => r.name));
  if (tables.has('reservations')) {
    const left = await q(`SELECT generation_id, key_id, cost_nano, created_at FROM reservations WHERE tenant_id IN ${inTenants}`, ...tenantIds);
    const keyName = new Map(keyRows.map((k) => [k.id, k.name]));
    check('no reservation rows left', left.length === 0, left.length ? left.map((r) => `${r.generation_id} (${keyName.get(r.key_id)}, ${r.cost_nano} nano, ${r.created_at})${logLinesFor(logFile, r.generation_id)}`).join('; ') : '');
  } else check('no reservation rows left', null, 'no reservations table');

  const ledger = tables.has('usage_ledger') ? 'usage_ledger' : [...tables].find((n) => /ledger/.test(n));
  if (ledger) {
    const byKey = new Map((await q(`SELECT key_id, SUM(cost_nano) AS s, COUNT(*) AS n FROM ${ledger} WHERE tenant_id IN ${inTenants} GROUP BY key_id`, ...tenantIds)).map((r) => [r.key_id, r]));
    const byTenant = new Map((await q(`SELECT tenant_id, SUM(cost_nano) AS s FROM ${ledger} WHERE tenant_id IN ${inTenants} GROUP BY tenant_id`, ...tenantIds)).map((r) => [r.tenant_id, r]));
    const keyDiff = keyRows.filter((k) => BigInt(byKey.get(k.id)?.s ?? 0) !== BigInt(k.spent_nano));
    const tenantDiff = tenantRows.filter((t) => BigInt(byTenant.get(t.id)?.s ?? 0) !== BigInt(t.spent_nano));
    check(`ledger sum = spent, per key (${ledger})`, keyDiff.length === 0, keyDiff.map((k) => `${k.name}: ledger ${byKey.get(k.id)?.s ?? 0} vs spent ${k.spent_nano}`).join('; '));
    check(`ledger sum = spent, per tenant (${ledger})`, tenantDiff.length === 0, tenantDiff.map((t) => `${t.name}: ledger ${byTenant.get(t.id)?.s ?? 0} vs spent ${t.spent_nano}`).join('; '));
    const [wrong] = await q(`SELECT COUNT(*) AS n FROM ${ledger} WHERE tenant_id IN ${inTenants} AND cost_nano > 0 AND (status <> 'ok' OR cache IN ('hit', 'coalesced'))`, ...tenantIds);
    check('ledger: no cost on a failed generation, a hit or a coalesced one', wrong.n === 0, `${wrong.n} such rows`);
  } else {
    check('ledger sum = spent, per key', null, 'no ledger table yet');
    check('ledger sum = spent, per tenant', null, 'no ledger table yet');
  }
  // what the clients were told they paid, against what the books say they spent
  const seen = new Map();
  for (const r of results) seen.set(r.key, (seen.get(r.key) ?? 0n) + (r.status === 200 ? costOf(r) : 0n));
  const clientDiff = keyRows.filter((k) => (seen.get(k.name) ?? 0n) !== BigInt(k.spent_nano));
  check('Imagegate-Cost-USD summed per key = spent', clientDiff.length === 0, clientDiff.map((k) => `${k.name}: told ${seen.get(k.name) ?? 0n} vs spent ${k.spent_nano}`).join('; ') + (clientDiff.length && ledger ? await chargedUntold(q, ledger, results, inTenants, tenantIds, logFile) : ''));

  // ---------------------------------------------------------------- budget alerts in the outbox
  if (tables.has('webhook_events')) {
    for (const c of await outboxChecks(q, tenantIds, inTenants)) check(c.name, c.ok, c.detail);
  } else check('one budget.threshold event per crossing', null, 'no webhook_events table');
  // ---------------------------------------------------------------- and delivered, through the queue
  if (webhooks) {
    for (const c of await webhookChecks(q, webhooks.hooks, webhooks.deliveries)) check(c.name, c.ok, c.detail);
  }

  // ---------------------------------------------------------------- the same through the API
  const byName = new Map(keyRows.map((k) => [k.name, k]));
  if (routes.usage) {
    const problems = [];
    for (const k of keys) {
      const r = await gw.call('GET', '/v1/usage', { key: k.key });
      if (r.status !== 200) {
        problems.push(`${k.name}: GET /v1/usage ${r.status}`);
        continue;
      }
      for (const [scope, u] of [['key', r.body.key], ['tenant', r.body.tenant]]) {
        const spent = usdToNano(u.spent_usd);
        const held = usdToNano(u.reserved_usd);
        const budget = u.budget_usd === null ? null : usdToNano(u.budget_usd);
        if (held !== 0n) problems.push(`${k.name} ${scope}: reserved_usd ${u.reserved_usd}`);
        if (budget !== null && spent + held > budget) problems.push(`${k.name} ${scope}: ${u.spent_usd}+${u.reserved_usd} > ${u.budget_usd}`);
      }
      if (usdToNano(r.body.key.spent_usd) !== BigInt(byName.get(k.name)?.spent_nano ?? -1)) problems.push(`${k.name}: /v1/usage spent ${r.body.key.spent_usd} ≠ D1 ${byName.get(k.name)?.spent_nano}`);
    }
    check('GET /v1/usage per key: reserved 0, spent + reserved ≤ budget, spent = D1', problems.length === 0, problems.join('; '));
  } else check('GET /v1/usage per key', null, 'route not there');
  if (routes.admin_usage) {
    const problems = [];
    for (const t of tenantRows) {
      const r = await gw.call('GET', `/admin/usage?tenant_id=${t.id}`, { admin: true });
      if (r.status !== 200) problems.push(`${t.name}: ${r.status}`);
      else if (usdToNano(r.body.total?.cost_usd) !== BigInt(t.spent_nano)) problems.push(`${t.name}: admin usage ${r.body.total?.cost_usd} ≠ spent ${t.spent_nano}`);
    }
    for (const k of keyRows) {
      const r = await gw.call('GET', `/admin/usage?key_id=${k.id}`, { admin: true });
      if (r.status !== 200) problems.push(`${k.name}: ${r.status}`);
      else if (usdToNano(r.body.total?.cost_usd) !== BigInt(k.spent_nano)) problems.push(`${k.name}: admin usage ${r.body.total?.cost_usd} ≠ spent ${k.spent_nano}`);
    }
    check('GET /admin/usage total per tenant and key = spent', problems.length === 0, problems.join('; '));
    const tagged = await perTagChecks(gw, tenantRows, keys);
    check('per-tag reports (group_by=tag:…, tag=… filters, /v1/usage) sum to spent per tenant', tagged.problems.length === 0, tagged.problems.join('; ') || tagged.detail);
  } else check('GET /admin/usage', null, 'route not there');
  const adminProblems = [];
  for (const t of tenantRows) {
    const r = await gw.call('GET', `/admin/tenants/${t.id}`, { admin: true });
    const budget = r.body?.budget_usd === null ? null : usdToNano(r.body?.budget_usd);
    if (r.status !== 200) adminProblems.push(`${t.name}: ${r.status}`);
    else if ((budget === null ? null : String(budget)) !== (t.budget_nano === null ? null : String(BigInt(t.budget_nano)))) adminProblems.push(`${t.name}: admin budget ${r.body.budget_usd} ≠ D1 ${t.budget_nano}`);
  }
  check('GET /admin/tenants/{id} shows the budgets the checks used', adminProblems.length === 0, adminProblems.join('; '));

  // ---------------------------------------------------------------- R2: nothing but images cached
  const bucket = await stack.bucket();
  const prefixes = {};
  const garbage = [];
  let cursor;
  let listed = 0;
  const r2Started = Date.now();
  const until = r2Started + 120_000;
  const firstBytes = async (key) => {
    const head = await bucket.get(key, { range: { offset: 0, length: 16 } });
    return head ? new Uint8Array(await head.arrayBuffer()) : new Uint8Array(0);
  };
  do {
    const page = await bucket.list({ cursor, limit: 1000 });
    // idempotency/ records may hold JSON error bodies; cache/ and images/ must be images
    const keys = page.objects.map((o) => o.key);
    for (const key of keys) prefixes[key.split('/')[0]] = (prefixes[key.split('/')[0]] ?? 0) + 1;
    listed += keys.length;
    const toRead = keys.filter((k) => k.startsWith('cache/') || k.startsWith('images/'));
    for (let i = 0; i < toRead.length && Date.now() < until; i += 16) {
      const batch = toRead.slice(i, i + 16);
      const heads = await Promise.all(batch.map(firstBytes));
      heads.forEach((bytes, j) => {
        if (!isImage(bytes)) garbage.push(batch[j]);
      });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor && Date.now() < until);
  if (Date.now() >= until) cursor = cursor ?? 'time';
  check('every cached and kept R2 object is an image (PNG/JPEG/WebP magic)', garbage.length === 0 && !cursor, `${listed} objects read in ${Math.round((Date.now() - r2Started) / 100) / 10} s (${Object.entries(prefixes).map(([p, n]) => `${p}/ ${n}`).join(', ')})${garbage.length ? `; not images: ${garbage.slice(0, 5).join(', ')}` : ''}${cursor ? '; listing cut short' : ''}`);

  // ---------------------------------------------------------------- coverage (information, not checks)
  const coverage = {
    statuses,
    hits: results.filter((r) => /;\s*hit/.test(r.cacheStatus ?? '')).length,
    coalesced: results.filter((r) => /coalesced/.test(r.cacheStatus ?? '')).length,
    budget_exceeded: results.filter((r) => r.code === 'budget_exceeded').length,
    rate_limited: results.filter((r) => r.code === 'rate_limited' || r.code === 'concurrency_limited').length,
    replays: replays.length,
  };
  const passed = checks.filter((c) => c.result === 'pass').length;
  const failed = checks.filter((c) => c.result === 'fail').length;
  const skipped = checks.filter((c) => c.result === 'skip').length;
  console.log('');
  console.log(`soak: ${results.length} requests from ${keys.length} keys of ${tenants.length} tenants`);
  console.log(`  coverage: ${JSON.stringify(coverage)}`);
  for (const c of checks) console.log(`  ${c.result.toUpperCase().padEnd(4)} ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return { checks, passed, failed, skipped, coverage, tally, keys: keyRows, tenants: tenantRows };
}

/**
 * Budget alerts (docs/webhooks.md), money-style: for every key and tenant with a budget, the
 * thresholds its settled spend has reached this period are exactly the ones with a budget.threshold
 * event, one each — however many requests crossed together — and each event's spent_usd is at or
 * past its threshold. No budget has two budget.refused events in a period. Every event was handed
 * to the queue (enqueued_at). Delivery is checked elsewhere.
 */
async function outboxChecks(q, tenantIds, inTenants) {
  const columns = 'id, name, budget_nano, period_key, spent_nano, alert_thresholds';
  const owners = [
    ...(await q(`SELECT 'key' AS scope, ${columns} FROM api_keys WHERE tenant_id IN ${inTenants}`, ...tenantIds)),
    ...(await q(`SELECT 'tenant' AS scope, ${columns} FROM tenants WHERE id IN ${inTenants}`, ...tenantIds)),
  ];
  const events = await q(`SELECT type, data, once_key, enqueued_at FROM webhook_events WHERE tenant_id IN ${inTenants} AND type LIKE 'budget.%'`, ...tenantIds);
  const counts = new Map();
  const problems = [];
  for (const e of events.filter((x) => x.type === 'budget.threshold')) {
    const d = JSON.parse(e.data);
    const id = d.scope === 'key' ? d.key_id : d.tenant_id;
    const k = `${d.scope}:${id}:${d.threshold_percent}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
    if (usdToNano(d.spent_usd) * 100n < BigInt(d.threshold_percent) * usdToNano(d.budget_usd)) problems.push(`${d.name} ${d.threshold_percent}%: event at spent ${d.spent_usd} of ${d.budget_usd}`);
  }
  let crossings = 0;
  for (const o of owners) {
    const budget = o.budget_nano === null ? 0n : BigInt(o.budget_nano);
    for (const pct of JSON.parse(o.alert_thresholds)) {
      const reached = budget > 0n && BigInt(o.spent_nano) * 100n >= BigInt(pct) * budget;
      const n = counts.get(`${o.scope}:${o.id}:${pct}`) ?? 0;
      crossings += reached ? 1 : 0;
      if (n !== (reached ? 1 : 0)) problems.push(`${o.scope} ${o.name} ${pct}%: ${n} events, spent ${o.spent_nano} of ${o.budget_nano}`);
    }
  }
  const refusedKeys = events.filter((e) => e.type === 'budget.refused').map((e) => e.once_key);
  const repeated = refusedKeys.filter((k, i) => refusedKeys.indexOf(k) !== i);
  const unsent = events.filter((e) => e.enqueued_at === null).length;
  return [
    { name: 'one budget.threshold event per crossing, none for a threshold not reached (outbox)', ok: problems.length === 0, detail: problems.join('; ') || `${crossings} crossings over ${owners.length} budgets` },
    { name: 'at most one budget.refused per budget and period (outbox)', ok: repeated.length === 0, detail: repeated.length ? repeated.join('; ') : `${refusedKeys.length} refusal events` },
    { name: 'every budget event handed to the queue (enqueued_at)', ok: unsent === 0, detail: `${events.length} events, ${unsent} unsent` },
  ];
}

/**
 * The bill split by tag (docs/money.md): per tenant, the rows of `group_by=tag:project` (the group
 * "" included) and of `group_by=tag:user` each sum to what the tenant spent; each project's
 * `tag=project:<v>` filtered total equals its row; a key's `/v1/usage?group_by=tag:project` gives
 * the same rows as the admin report.
 */
async function perTagChecks(gw, tenantRows, keys) {
  const problems = [];
  let groups = 0;
  let tagged = 0n;
  const sum = (rows) => rows.reduce((s, r) => s + usdToNano(r.cost_usd), 0n);
  for (const t of tenantRows) {
    const spent = BigInt(t.spent_nano);
    for (const name of ['project', 'feature', 'user']) {
      const r = await gw.call('GET', `/admin/usage?tenant_id=${t.id}&group_by=tag:${name}`, { admin: true });
      if (r.status !== 200) {
        problems.push(`${t.name} tag:${name}: ${r.status}`);
        continue;
      }
      if (sum(r.body.rows) !== spent) problems.push(`${t.name}: tag:${name} rows sum to ${sum(r.body.rows)} ≠ spent ${spent}`);
      if (name !== 'project') continue;
      groups += r.body.rows.length;
      for (const row of r.body.rows.filter((x) => x.group !== '')) {
        tagged += usdToNano(row.cost_usd);
        const f = await gw.call('GET', `/admin/usage?tenant_id=${t.id}&group_by=tenant&tag=project:${encodeURIComponent(row.group)}`, { admin: true });
        if (f.body?.total?.cost_usd !== row.cost_usd || f.body?.total?.requests !== row.requests) {
          problems.push(`${t.name}: tag=project:${row.group} total ${f.body?.total?.cost_usd} ≠ row ${row.cost_usd}`);
        }
      }
      const key = keys.find((k) => k.tenant_id === t.id || k.tenantId === t.id);
      if (key) {
        const own = await gw.call('GET', '/v1/usage?group_by=tag:project', { key: key.key });
        if (JSON.stringify(own.body?.rows) !== JSON.stringify(r.body.rows)) problems.push(`${t.name}: /v1/usage by tag differs from /admin/usage`);
      }
    }
  }
  return { problems, detail: `${groups} project groups over ${tenantRows.length} tenants; ${tagged} nano-USD carried a project tag` };
}

function summarize(list, field = 'code') {
  const by = {};
  for (const r of list) {
    const k = `${r.action} → ${r.status}${r[field] ? ` ${r[field]}` : ''}`;
    by[k] = (by[k] ?? 0) + 1;
  }
  return Object.entries(by).map(([k, n]) => `${k} ×${n}`).join('; ');
}

function rowsWhere(rows, pred, col) {
  const bad = rows.filter(pred);
  return bad.length ? bad.map((r) => `${r.name}: ${col} ${r[col]}`).join('; ') : '';
}

function budgetsLine(keyRows, tenantRows) {
  return [...tenantRows, ...keyRows]
    .filter((r) => r.budget_nano !== null)
    .map((r) => `${r.name} ${r.spent_nano}/${r.budget_nano}`)
    .join(', ');
}

/** The Worker's log lines about one generation, to explain a reservation that was never settled. */
/** The charged ledger rows whose request the client was not told it paid for: what it saw, what the log says. */
async function chargedUntold(q, ledger, results, inTenants, tenantIds, logFile) {
  const told = new Map(results.filter((r) => r.requestId).map((r) => [r.requestId, r]));
  const rows = await q(`SELECT request_id, generation_id, cost_nano, status FROM ${ledger} WHERE tenant_id IN ${inTenants} AND cost_nano > 0`, ...tenantIds);
  const untold = rows.filter((row) => told.get(row.request_id)?.status !== 200);
  return ` — charged but not answered 200: ${untold
    .slice(0, 5)
    .map((row) => `${row.request_id} (${row.cost_nano} nano, ledger ${row.status}; the client saw ${told.get(row.request_id)?.status ?? 'no answer'} ${told.get(row.request_id)?.code ?? ''})${logLinesFor(logFile, row.request_id)}`)
    .join('; ')}`;
}

function logLinesFor(logFile, generationId) {
  if (!logFile) return '';
  try {
    const id = generationId.split('.')[0];
    const hits = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes(id));
    return hits.length ? ` — log: ${hits.slice(0, 3).map((l) => l.slice(0, 300)).join(' | ')}` : ' — no log line for it (the request never finished)';
  } catch {
    return '';
  }
}
