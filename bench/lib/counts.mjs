/**
 * Calls per request on each path (bench/README.md, the profile): sequential requests to the counting copy of
 * the gateway (bench/count-entry.js), the counts read back and divided by the number of requests.
 * "first" is a key's very first request (nothing about it cached in the isolate yet); "steady" is
 * the average over the next N, which is what throughput sees.
 */
import { load } from './load.mjs';
import { MODEL, client, genBody } from './setup.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function measure(base, send, n) {
  const sizeBefore = (await (await fetch(`${base}/__bench/counts`)).json()).d1_size_bytes?.DB;
  await fetch(`${base}/__bench/reset`, { method: 'POST', body: '{}' });
  const statuses = {};
  for (let i = 0; i < n; i++) {
    const r = await send(i);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  await sleep(300); // let waitUntil work (releases, cache writes) finish before reading the counts
  const { counts, times, d1_size_bytes: size } = await (await fetch(`${base}/__bench/counts`)).json();
  delete counts.requests;
  const avg = (o) => Object.fromEntries(Object.entries(o).sort().map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
  // what the D1 database grew by, per request (SQLite pages of 4 KB: coarse over a few requests)
  const grew = sizeBefore !== undefined && size?.DB !== undefined ? Math.round((size.DB - sizeBefore) / n) : null;
  return { requests: n, statuses, per_request: avg(counts), ms_per_request: avg(times), d1_bytes_per_request: grew, d1_bytes: grew === null ? null : size.DB - sizeBefore };
}

async function measureLoad(base, opts) {
  await fetch(`${base}/__bench/reset`, { method: 'POST', body: '{}' });
  const r = await load(opts);
  await (opts.afterLoad ?? (() => sleep(1_500)))(); // requests still in flight when the load stopped finish in the Worker
  const { counts, times } = await (await fetch(`${base}/__bench/counts`)).json();
  const n = counts.requests ?? r.ok + r.non2xx;
  delete counts.requests;
  const avg = (o) => Object.fromEntries(Object.entries(o).sort().map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
  return { requests: n, statuses: { '2xx': r.ok, other: r.non2xx }, rps: r.rps, per_request: avg(counts), ms_per_request: avg(times) };
}

/**
 * The database's growth per generation over the sequential measurements: SQLite grows by whole
 * pages, so one measurement of ten requests is coarse, their sum much less so.
 */
function growth(out) {
  let bytes = 0;
  let generations = 0;
  for (const [name, m] of Object.entries(out)) {
    if (m.d1_bytes == null || name.includes('under_load')) continue;
    bytes += m.d1_bytes;
    generations += m.requests * (name.endsWith('_n4') ? 4 : 1);
  }
  return { requests: generations, statuses: {}, per_request: { 'D1 bytes per generation': generations ? Math.round(bytes / generations) : null }, bytes, generations };
}

export async function countCalls(base, { n = 20, runId, hasEstimate, loadSeconds = 3, afterLoad }) {
  const gw = client(base);
  // no delays, no faults, no traces: plain counts
  await fetch(`${base}/__bench/config`, { method: 'POST', body: JSON.stringify({ delays: {}, faults: 0, trace: false }) });
  const tenant = await gw.tenant({ name: 'bench-count', budget_usd: '1000000', budget_period: 'month' });
  const plain = await gw.key(tenant.id, { name: 'count-plain', budget_usd: '1000000', budget_period: 'month' });
  const limited = await gw.key(tenant.id, { name: 'count-rpm', budget_usd: '1000000', budget_period: 'month', rate_limit_rpm: 1_000_000, max_concurrent: 1_000 });
  let seed = 10_000;
  const gen = (key, prompt, s) => gw.call('POST', '/image/generation', { key, json: genBody(prompt, s) });
  const out = {};
  out.miss_first = await measure(base, () => gen(plain.key, `count miss ${runId}`, seed++), 1);
  out.miss = await measure(base, () => gen(plain.key, `count miss ${runId}`, seed++), n);
  await gen(plain.key, `count hit ${runId}`, 42); // warm the entry
  out.hit = await measure(base, () => gen(plain.key, `count hit ${runId}`, 42), n);
  out.miss_rate_limited_key_first = await measure(base, () => gen(limited.key, `count rl ${runId}`, seed++), 1);
  out.miss_rate_limited_key = await measure(base, () => gen(limited.key, `count rl ${runId}`, seed++), n);
  out.hit_rate_limited_key = await measure(base, () => gen(limited.key, `count hit ${runId}`, 42), n);
  const openai = (body) => gw.call('POST', '/v1/images/generations', { key: plain.key, json: body });
  const oa = (count, s) => ({ model: MODEL, prompt: `count openai ${runId}`, n: count, size: '1024x1024', seed: s });
  out.openai_miss_n1 = await measure(base, () => openai(oa(1, (seed += 4))), n);
  out.openai_miss_n4 = await measure(base, () => openai(oa(4, (seed += 4))), n);
  await openai(oa(1, 3)); // warm the entries
  await openai(oa(4, 3));
  out.openai_hit_n1 = await measure(base, () => openai(oa(1, 3)), n);
  out.openai_hit_n4 = await measure(base, () => openai(oa(4, 3)), n);
  // the same counts and times with 10 requests in flight: which call's latency grows under load
  const template = JSON.stringify(genBody(`count miss load ${runId}`, '__SEED__')).replace('"__SEED__"', '__SEED__');
  for (const [name, c] of [
    ['miss_under_load_c10', { template }],
    ['hit_under_load_c10', { body: JSON.stringify(genBody(`count hit ${runId}`, 42)) }],
  ]) {
    out[name] = await measureLoad(base, { url: `${base}/image/generation`, headers: { authorization: `Bearer ${plain.key}` }, ...c, connections: 10, seconds: loadSeconds, afterLoad });
  }
  out.d1_growth = growth(out);
  if (hasEstimate) out.estimate = await measure(base, () => gw.call('POST', '/v1/estimate', { key: plain.key, json: genBody(`count hit ${runId}`, 42) }), n);
  return out;
}
