/**
 * Webhooks in the soak (bench/README.md, "Webhooks in the soak"; docs/webhooks.md): a global
 * endpoint for every event and one tenant's endpoint, both aimed at the flaky receiver
 * (receiver.mjs). Set up before the load, so every event the load and the set-up cause is theirs;
 * after the load, a bounded wait for every delivery, then the checks, comparing three records:
 * the outbox (webhook_events), the delivery log (webhook_deliveries) and what the receiver saw.
 */
import { onExit } from './setup.mjs';
import { startReceiver } from './receiver.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The receiver, and the global endpoint; the tenant's endpoint comes with its tenant (addTenantEndpoint). */
export async function startWebhooks(gw, receiverOptions) {
  const receiver = await startReceiver(receiverOptions);
  const forget = onExit(() => receiver.stop());
  const endpoints = [];
  const create = async (name, tenantId) => {
    const r = await gw.call('POST', '/admin/webhooks', { admin: true, json: { url: receiver.url(name), events: ['*'], ...(tenantId ? { tenant_id: tenantId } : {}), description: `soak ${name}` } });
    if (r.status !== 201) throw new Error(`POST /admin/webhooks (${name}): ${r.status} ${JSON.stringify(r.body)}`);
    receiver.setSecret(name, r.body.secret);
    endpoints.push({ name, id: r.body.id, tenantId: tenantId ?? null });
  };
  await create('global', null);
  return {
    receiver,
    endpoints,
    addTenantEndpoint: (tenantId) => create('tenant', tenantId),
    stop: () => {
      forget();
      receiver.stop();
    },
  };
}

/**
 * Key events besides key.created: a key made for the purpose is rotated, then revoked, in the
 * tenant whose endpoint watches (so both endpoints must get them) and in another (only the global one).
 */
export async function keyEvents(gw, tenantIds) {
  for (const tenantId of tenantIds) {
    const key = await gw.key(tenantId, { name: 'soak-rotated-then-revoked' });
    const rotated = await gw.call('POST', `/admin/keys/${key.id}/rotate`, { admin: true, json: {} });
    const revoked = await gw.call('DELETE', `/admin/keys/${key.id}`, { admin: true });
    if (rotated.status !== 200 || revoked.status !== 204) throw new Error(`rotate/revoke a key: ${rotated.status}, ${revoked.status}`);
  }
}

/** What the outbox says an endpoint should get: every event, or its tenant's. */
async function expectedEvents(q, endpoint) {
  const cols = 'id, type, tenant_id, data';
  return endpoint.tenantId
    ? q(`SELECT ${cols} FROM webhook_events WHERE webhook_id IS NULL AND tenant_id = ? ORDER BY occurred_at`, endpoint.tenantId)
    : q(`SELECT ${cols} FROM webhook_events WHERE webhook_id IS NULL ORDER BY occurred_at`);
}

/**
 * (endpoint, event) pairs still without a delivered attempt: whether the last attempt failed for
 * good, and when the next one is due (null: never tried yet, or failed for good).
 */
async function undelivered(q, endpoints) {
  const open = [];
  for (const ep of endpoints) {
    const rows = await q(
      `SELECT e.id, e.type, d.ok, d.next_attempt_at, d.attempt
         FROM webhook_events e
         LEFT JOIN webhook_deliveries d ON d.webhook_id = ? AND d.event_id = e.id
              AND d.attempt = (SELECT MAX(attempt) FROM webhook_deliveries WHERE webhook_id = ? AND event_id = e.id)
        WHERE e.webhook_id IS NULL AND (? IS NULL OR e.tenant_id = ?)
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.webhook_id = ? AND x.event_id = e.id AND x.ok = 1)`,
      ep.id, ep.id, ep.tenantId, ep.tenantId, ep.id,
    );
    for (const r of rows) {
      const failed = r.attempt !== null && r.next_attempt_at === null;
      open.push({ endpoint: ep.name, event: r.id, type: r.type, failed, due: r.next_attempt_at ? Date.parse(r.next_attempt_at) : null });
    }
  }
  return open;
}

/**
 * Waits until every delivery has succeeded or failed for good. The retry schedule decides how
 * long that may take (1 + 3 + 9 + 27 + 81 s, plus up to six 10 s timeouts), so the wait is bounded
 * by it rather than by a fixed time: it gives up once every open delivery is `graceMs` past its
 * next attempt's due time (or was never tried for `graceMs`), and in any case after `capMs`.
 */
export async function waitForDeliveries(q, endpoints, { graceMs = 45_000, capMs = 300_000 } = {}) {
  const t0 = Date.now();
  const stuck = (o) => Date.now() > (o.due ?? t0) + graceMs;
  let open = await undelivered(q, endpoints);
  while (open.some((o) => !o.failed && !stuck(o)) && Date.now() - t0 < capMs) {
    await sleep(1_000);
    open = await undelivered(q, endpoints);
  }
  return { waited_s: Math.round((Date.now() - t0) / 100) / 10, open };
}

/**
 * The checks, as { name, ok, detail }. `wait` is waitForDeliveries' answer.
 */
export async function webhookChecks(q, hooks, wait) {
  const { receiver, endpoints } = hooks;
  const checks = [];
  const check = (name, ok, detail) => checks.push({ name, ok, detail });
  const byEndpoint = new Map(endpoints.map((ep) => [ep.name, receiver.arrivals.filter((a) => a.endpoint === ep.name)]));
  const global = endpoints.find((ep) => ep.tenantId === null);
  const outbox = await expectedEvents(q, global);
  const outboxIds = new Map(outbox.map((e) => [e.id, e]));

  const seen = distinct(byEndpoint.get(global.name));
  const missing = outbox.filter((e) => !seen.has(e.id));
  check(
    'global webhook: every budget.threshold, budget.refused and key.* event in the outbox delivered (answered 204), once each after dedupe by webhook-id',
    outbox.length > 0 && missing.length === 0,
    missing.length ? `not delivered: ${missing.slice(0, 5).map((e) => `${e.type} ${e.id}`).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5})` : ''}` : `${outbox.length} events (${typeCounts(outbox)}) from ${byEndpoint.get(global.name).length} arrivals, ${duplicates(byEndpoint.get(global.name))} delivered more than once`,
  );
  const stray = receiver.arrivals.filter((a) => !outboxIds.has(a.id));
  check('no webhook received that is not in the outbox', stray.length === 0, stray.length ? stray.slice(0, 5).map((a) => `${a.endpoint} ${a.id ?? 'no webhook-id'}`).join(', ') : `${receiver.arrivals.length} arrivals`);
  for (const ep of endpoints.filter((e) => e.tenantId !== null)) check(...tenantCheck(ep, byEndpoint.get(ep.name), outbox));
  check(...bodyCheck(receiver.arrivals, outboxIds));
  check(...await retryCheck(q, endpoints, byEndpoint, wait));
  check(...await failedCheck(q, endpoints, wait));
  return checks;
}

/** The webhook-ids an endpoint took delivery of: verified arrivals it answered 204 (a 500 or a hang is not a delivery). */
function distinct(arrivals) {
  return new Set(arrivals.filter((a) => a.verified && a.answer === 204).map((a) => a.id));
}

/** Events an endpoint took delivery of more than once (at least once allows it; dedupe by webhook-id absorbs it). */
function duplicates(arrivals) {
  const n = new Map();
  for (const a of arrivals.filter((x) => x.verified && x.answer === 204)) n.set(a.id, (n.get(a.id) ?? 0) + 1);
  return [...n.values()].filter((c) => c > 1).length;
}

function typeCounts(events) {
  const n = {};
  for (const e of events) n[e.type] = (n[e.type] ?? 0) + 1;
  return Object.entries(n).map(([t, c]) => `${t} ${c}`).join(', ');
}

/** A tenant's endpoint: exactly the events of its tenant, none of another's. */
function tenantCheck(ep, arrivals, outbox) {
  const own = outbox.filter((e) => e.tenant_id === ep.tenantId);
  const seen = distinct(arrivals);
  const missing = own.filter((e) => !seen.has(e.id));
  const foreign = arrivals.filter((a) => outbox.find((e) => e.id === a.id)?.tenant_id !== ep.tenantId);
  return [
    `tenant webhook (${ep.name}): exactly its tenant's events, none of another tenant's`,
    own.length > 0 && missing.length === 0 && foreign.length === 0,
    missing.length || foreign.length
      ? `missing ${missing.map((e) => `${e.type} ${e.id}`).slice(0, 5).join(', ') || 'none'}; foreign ${foreign.map((a) => a.id).slice(0, 5).join(', ') || 'none'}`
      : `${own.length} events (${typeCounts(own)}) of ${outbox.length}`,
  ];
}

/** Every arrival verified by standardwebhooks; its body is the outbox's event, the same bytes on every attempt. */
function bodyCheck(arrivals, outboxIds) {
  const problems = [];
  const firstBody = new Map();
  for (const a of arrivals) {
    if (!a.verified) problems.push(`${a.endpoint} ${a.id}: ${a.error}`);
    const e = outboxIds.get(a.id);
    const parsed = safeJson(a.body);
    if (e && (parsed?.type !== e.type || JSON.stringify(parsed?.data) !== JSON.stringify(JSON.parse(e.data)))) problems.push(`${a.id}: body is not the outbox's ${e.type}`);
    const key = `${a.endpoint} ${a.id}`;
    if (!firstBody.has(key)) firstBody.set(key, a.body);
    else if (firstBody.get(key) !== a.body) problems.push(`${key}: a retry's body differs`);
  }
  return [
    'every webhook body verified with standardwebhooks, is its outbox event, the same bytes on every attempt',
    arrivals.length > 0 && problems.length === 0,
    problems.length ? `${problems.length} problems: ${problems.slice(0, 5).join('; ')}` : `${arrivals.length} arrivals verified, 0 failures`,
  ];
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Retries happened (the delivery log has attempts > 1), and each one carried the webhook-id of the
 * attempt it repeats: every arrival the receiver failed (500 or a hang) was followed by another
 * arrival with the same webhook-id at the same endpoint, every 500 the log records was answered by
 * the receiver for that webhook-id, and every hang was given up by the gateway (a timed-out attempt
 * in the log, the connection closed before the receiver's late answer).
 */
async function retryCheck(q, endpoints, byEndpoint, wait) {
  const undeliveredIds = new Set(wait.open.map((o) => `${o.endpoint} ${o.event}`)); // the next check reports those
  const problems = [];
  let retried = 0;
  let retries = 0;
  for (const ep of endpoints) {
    const arrivals = byEndpoint.get(ep.name);
    const rows = await q('SELECT event_id, MAX(attempt) AS attempts, SUM(response_status = 500) AS n500, SUM(response_status IS NULL) AS silent FROM webhook_deliveries WHERE webhook_id = ? GROUP BY event_id', ep.id);
    const story = async (id) => `receiver ${JSON.stringify(arrivals.filter((a) => a.id === id).map((a) => a.answer))}, log ${JSON.stringify(await q('SELECT attempt, response_status, ok, error FROM webhook_deliveries WHERE webhook_id = ? AND event_id = ? ORDER BY attempt', ep.id, id))}`;
    for (const r of rows) {
      const same = arrivals.filter((a) => a.id === r.event_id);
      retried += r.attempts > 1 ? 1 : 0;
      retries += r.attempts - 1;
      // every 500 the log records was the receiver's, and every hang is a timed-out attempt in the log
      const hangs = same.filter((a) => a.answer === 'hang');
      if (same.filter((a) => a.answer === 500).length < r.n500 || hangs.length > r.silent || hangs.some((a) => a.abandoned === false)) problems.push(`${ep.name} ${r.event_id}: ${await story(r.event_id)}`);
    }
    for (const [i, a] of arrivals.entries()) {
      if (a.answer !== 204 && !undeliveredIds.has(`${ep.name} ${a.id}`) && !arrivals.slice(i + 1).some((b) => b.id === a.id)) problems.push(`${ep.name} ${a.id}: answered ${a.answer}, never tried again with that webhook-id; ${await story(a.id)}`);
    }
  }
  return [
    'webhook retries happened after 500s and hangs (timed out), each with the same webhook-id',
    retried > 0 && problems.length === 0,
    problems.length ? problems.slice(0, 5).join('; ') : `${retried} deliveries retried, ${retries} retries in all`,
  ];
}

/** No delivery failed for good or left undelivered; one delivered attempt per event and endpoint in the log. */
async function failedCheck(q, endpoints, wait) {
  const detail = [];
  for (const o of wait.open) {
    const ep = endpoints.find((e) => e.name === o.endpoint);
    const rows = await q('SELECT attempt, at, response_status, ok, error, next_attempt_at FROM webhook_deliveries WHERE webhook_id = ? AND event_id = ? ORDER BY attempt', ep.id, o.event);
    detail.push(`${o.endpoint} ${o.type} ${o.event} ${o.failed ? 'failed for good' : 'still pending'}: ${JSON.stringify(rows)}`);
  }
  const twice = await q('SELECT webhook_id, event_id, COUNT(*) AS n FROM webhook_deliveries WHERE ok = 1 GROUP BY webhook_id, event_id HAVING n > 1');
  for (const t of twice) detail.push(`${t.event_id} delivered ${t.n} times to ${t.webhook_id} by the log`);
  const [all] = await q('SELECT COUNT(DISTINCT webhook_id || event_id) AS pairs, COUNT(*) AS attempts FROM webhook_deliveries');
  return [
    `every webhook delivered (waited ${wait.waited_s} s), none failed for good, one delivered attempt each`,
    detail.length === 0,
    detail.length ? detail.slice(0, 5).join(' | ') : `${all.pairs} deliveries, ${all.attempts} attempts`,
  ];
}

/** Figures for the report. */
export function receiverSummary(receiver) {
  const answers = {};
  for (const a of receiver.arrivals) answers[a.answer] = (answers[a.answer] ?? 0) + 1;
  return { options: receiver.options, arrivals: receiver.arrivals.length, answers, unverified: receiver.arrivals.filter((a) => !a.verified).length };
}
