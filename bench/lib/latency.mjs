/**
 * The latency model (bench/README.md, "Latency model"): the instrumented copy of the gateway
 * (bench/count-entry.js) waits a fixed delay before every D1, R2 and Durable Object call (and,
 * optionally, every origin call), as a deployed gateway waits for each network round trip. Per
 * path it reports
 *   - traced sequential requests: the latency the gateway adds beyond the origin's own time
 *     (client time minus the time inside origin calls), and the critical path: the longest chain
 *     of storage calls that do not overlap in time, made before the answer went out;
 *   - the same path under load (wrk, 10 connections, untraced): p50 / p99 minus the origin delay.
 */
import { load } from './load.mjs';
import { MODEL, client, genBody } from './setup.mjs';
import { percentile } from './stats.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x) => Math.round(x * 10) / 10;

/**
 * The longest chain of calls in which each starts no earlier than the previous one ended: the
 * round trips that had to wait for one another. Calls that overlap in time ran in parallel and
 * count once. O(n²) over a request's few calls.
 */
export function longestChain(calls) {
  const sorted = [...calls].sort((a, b) => a.start - b.start || a.end - b.end);
  const len = sorted.map(() => 1);
  const prev = sorted.map(() => -1);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = 0; j < i; j++) {
      if (sorted[j].end <= sorted[i].start && len[j] + 1 > len[i]) {
        len[i] = len[j] + 1;
        prev[i] = j;
      }
    }
  }
  let best = -1;
  for (let i = 0; i < sorted.length; i++) if (best < 0 || len[i] > len[best]) best = i;
  const chain = [];
  for (let i = best; i >= 0; i = prev[i]) chain.unshift(sorted[i]);
  return chain;
}

/** Total length of the union of [start, end) intervals. */
function unionMs(calls) {
  let total = 0;
  let until = -Infinity;
  for (const c of [...calls].sort((a, b) => a.start - b.start)) {
    if (c.end > until) {
      total += c.end - Math.max(c.start, until);
      until = c.end;
    }
  }
  return total;
}

/** One traced request's figures: what it waited for before it answered, and what came after. */
function analyse(trace, clientMs) {
  // a call the answer waited for ended before it; one started earlier but still running (waitUntil
  // work, e.g. the rate limiter's release) did not delay the answer
  const before = trace.calls.filter((c) => c.end <= trace.response_ms);
  const storage = before.filter((c) => c.kind !== 'origin');
  const chain = longestChain(storage);
  const originMs = unionMs(before.filter((c) => c.kind === 'origin'));
  const byKind = {};
  for (const c of chain) byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
  return {
    added_ms: clientMs - originMs,
    chain: chain.map((c) => c.label),
    by_kind: byKind,
    calls_before_answer: storage.length,
    calls_after_answer: trace.calls.filter((c) => c.end > trace.response_ms && c.kind !== 'origin').length,
    origin_calls: before.filter((c) => c.kind === 'origin').length,
  };
}

/** The chain most requests of a path showed (they can differ, e.g. a periodic refresh). */
function commonest(list) {
  const seen = new Map();
  for (const x of list) seen.set(JSON.stringify(x), (seen.get(JSON.stringify(x)) ?? 0) + 1);
  const [text, times] = [...seen.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['[]', 0];
  return { value: JSON.parse(text), requests: times };
}

async function control(base, path, body) {
  const r = await fetch(`${base}/__bench/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`/__bench/${path}: ${r.status}`);
  return r.json();
}

async function tracedPath(base, send, n) {
  await control(base, 'reset', {});
  const clientMs = [];
  const statuses = {};
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await send(i);
    clientMs.push(performance.now() - t0);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  await sleep(500); // waitUntil work (settles, cache writes) finishes and lands in the traces
  const { traces } = await control(base, 'traces');
  const rows = traces.slice(0, n).map((t, i) => analyse(t, clientMs[i]));
  const added = rows.map((r) => r.added_ms);
  const lengths = rows.map((r) => r.chain.length);
  // the chain shown is the commonest among the requests whose chain has the median length
  const median = percentile(lengths, 50);
  const typical = rows.filter((r) => r.chain.length === median);
  const chain = commonest(typical.map((r) => r.chain));
  const byKind = commonest(typical.map((r) => r.by_kind));
  return {
    requests: n,
    statuses,
    added_p50_ms: round(percentile(added, 50)),
    added_p99_ms: round(percentile(added, 99)),
    storage_round_trips_p50: median,
    storage_round_trips_max: Math.max(...lengths),
    critical_path: chain.value,
    critical_path_seen_in: chain.requests,
    critical_path_by_binding: byKind.value,
    storage_calls_before_answer: percentile(rows.map((r) => r.calls_before_answer), 50),
    storage_calls_after_answer: percentile(rows.map((r) => r.calls_after_answer), 50),
    origin_calls: percentile(rows.map((r) => r.origin_calls), 50),
  };
}

/** The paths: each a traced sender and an untraced load case, on the instrumented gateway. */
function paths(base, keys, runId) {
  const gw = client(base);
  let seed = 5_000;
  const native = (key, body) => gw.call('POST', '/image/generation', { key, json: body });
  const openai = (key, body) => gw.call('POST', '/v1/images/generations', { key, json: body });
  const oaBody = (n, s) => ({ model: MODEL, prompt: `latency openai ${runId}`, n, size: '1024x1024', seed: s });
  const hitBody = genBody(`latency hit ${runId}`, 42);
  const auth = (k) => ({ authorization: `Bearer ${k}` });
  const tpl = (o) => JSON.stringify(o).replace('"__SEED__"', '__SEED__');
  return [
    { name: 'miss', send: () => native(keys.plain, genBody(`latency miss ${runId}`, seed++)), load: { url: `${base}/image/generation`, headers: auth(keys.plain), template: tpl(genBody(`latency miss load ${runId}`, '__SEED__')) } },
    { name: 'hit', warm: () => native(keys.plain, hitBody), send: () => native(keys.plain, hitBody), load: { url: `${base}/image/generation`, headers: auth(keys.plain), body: JSON.stringify(hitBody) } },
    { name: 'estimate', send: () => gw.call('POST', '/v1/estimate', { key: keys.plain, json: hitBody }), load: { url: `${base}/v1/estimate`, headers: auth(keys.plain), body: JSON.stringify(hitBody) } },
    { name: 'openai miss n=1', send: () => openai(keys.plain, oaBody(1, (seed += 4))), load: { url: `${base}/v1/images/generations`, headers: auth(keys.plain), template: tpl({ ...oaBody(1, '__SEED__'), prompt: `latency oa1 load ${runId}` }) } },
    { name: 'openai miss n=4', send: () => openai(keys.plain, oaBody(4, (seed += 4))), load: { url: `${base}/v1/images/generations`, headers: auth(keys.plain), template: tpl({ ...oaBody(4, '__SEED__'), prompt: `latency oa4 load ${runId}` }), seedStep: 4 } },
    { name: 'openai hit n=4', warm: () => openai(keys.plain, oaBody(4, 7)), send: () => openai(keys.plain, oaBody(4, 7)), load: { url: `${base}/v1/images/generations`, headers: auth(keys.plain), body: JSON.stringify(oaBody(4, 7)) } },
    { name: 'miss, key with rpm+max_concurrent', send: () => native(keys.limited, genBody(`latency rl ${runId}`, seed++)), load: null },
  ];
}

/**
 * @param {string} base        the instrumented gateway (stack.counterUrl)
 * @param {object} o
 * @param {{d1:number, r2:number, do:number, origin:number}} o.delays  ms per call
 * @param {number} o.n          traced requests per path
 * @param {number} o.seconds    seconds of load per path (0: no load rows)
 * @param {() => Promise<unknown>} [o.afterLoad] waits out the requests a load left in flight
 */
export async function latencyModel(base, { delays, n, seconds, runId, afterLoad = async () => undefined }) {
  const gw = client(base);
  await control(base, 'config', { delays: {}, faults: 0, trace: false });
  const tenant = await gw.tenant({ name: 'bench-latency', budget_usd: '1000000', budget_period: 'month' });
  const keys = {
    plain: (await gw.key(tenant.id, { name: 'latency-plain', budget_usd: '1000000', budget_period: 'month' })).key,
    limited: (await gw.key(tenant.id, { name: 'latency-rpm', budget_usd: '1000000', budget_period: 'month', rate_limit_rpm: 1_000_000, max_concurrent: 1_000 })).key,
  };
  const out = { delays_ms: delays, traced_requests_per_path: n, paths: [] };
  try {
    for (const p of paths(base, keys, runId)) {
      await control(base, 'config', { delays, trace: false });
      await p.send(); // the key's first request (isolate caches) and, for a hit, the entry
      await p.warm?.();
      await control(base, 'config', { trace: true });
      const row = { path: p.name, ...(await tracedPath(base, p.send, n)) };
      await control(base, 'config', { trace: false });
      if (p.load && seconds > 0) {
        const r = await load({ ...p.load, connections: 10, seconds });
        await afterLoad();
        if (r.ok + r.non2xx === 0) row.under_load_c10 = { note: `no request finished within ${seconds} s` };
        else row.under_load_c10 = { rps: r.rps, p50: r.p50, p99: r.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts, added_p50_ms: round(r.p50 - (delays.origin ?? 0)), added_p99_ms: round(r.p99 - (delays.origin ?? 0)) };
      }
      out.paths.push(row);
    }
  } finally {
    await control(base, 'config', { delays: {}, trace: false });
  }
  return out;
}
