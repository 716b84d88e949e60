/**
 * Calls per request on each path (bench/README.md, the profile): sequential requests to the counting copy of
 * the gateway (bench/count-entry.js), the counts read back and divided by the number of requests.
 * "first" is a key's very first request (nothing about it cached in the isolate yet); "steady" is
 * the average over the next N, which is what throughput sees.
 */
import { load } from './load.mjs';
import { client, genBody } from './setup.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function measure(base, send, n) {
  await fetch(`${base}/__bench/reset`, { method: 'POST' });
  const statuses = {};
  for (let i = 0; i < n; i++) {
    const r = await send(i);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  await sleep(300); // let waitUntil work (releases, cache writes) finish before reading the counts
  const { counts, times } = await (await fetch(`${base}/__bench/counts`)).json();
  delete counts.requests;
  const avg = (o) => Object.fromEntries(Object.entries(o).sort().map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
  return { requests: n, statuses, per_request: avg(counts), ms_per_request: avg(times) };
}

async function measureLoad(base, opts) {
  await fetch(`${base}/__bench/reset`, { method: 'POST' });
  const r = await load(opts);
  await sleep(1_500); // requests still in flight when the load stopped finish in the Worker
  const { counts, times } = await (await fetch(`${base}/__bench/counts`)).json();
  const n = counts.requests ?? r.ok + r.non2xx;
  delete counts.requests;
  const avg = (o) => Object.fromEntries(Object.entries(o).sort().map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
  return { requests: n, statuses: r.statuses, rps: r.rps, per_request: avg(counts), ms_per_request: avg(times) };
}

export async function countCalls(base, { n = 20, runId, hasEstimate, loadSeconds = 3 }) {
  const gw = client(base);
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
  // the same counts and times with 10 requests in flight: which call's latency grows under load
  for (const [name, nextBody, body] of [
    ['miss_under_load_c10', () => JSON.stringify(genBody(`count miss ${runId}`, seed++)), undefined],
    ['hit_under_load_c10', undefined, JSON.stringify(genBody(`count hit ${runId}`, 42))],
  ]) {
    out[name] = await measureLoad(base, { url: `${base}/image/generation`, headers: { authorization: `Bearer ${plain.key}` }, nextBody, body, connections: 10, seconds: loadSeconds, maxRequests: 1_000 });
  }
  if (hasEstimate) out.estimate = await measure(base, () => gw.call('POST', '/v1/estimate', { key: plain.key, json: genBody(`count hit ${runId}`, 42) }), n);
  return out;
}
