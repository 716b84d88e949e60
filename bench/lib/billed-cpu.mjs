/**
 * The CPU Cloudflare would bill (bench/README.md, "Billed CPU"): workerd's CPU per request on a
 * path, minus what the local D1 / R2 / Durable Object simulators cost for the calls that path
 * makes. Locally those simulators run inside the same workerd process as the Worker; in
 * production they are network calls that cost the Worker no CPU. Two ways to price them:
 *
 * - by the storage floor (the figure the targets use, where the path has one): the probe Worker's
 *   `/floor/miss` and `/floor/hit` make a miss's or a hit's storage calls in one request, in the
 *   same run, at the same concurrency, just before the path's own row.
 *     miss: own = workerd(miss) − (workerd(storage floor miss) − workerd(floor))
 *           (both floors forward the origin's answer; their difference is the storage calls)
 *     hit:  own = workerd(hit) − (workerd(storage floor hit) − workerd(no-op))
 * - by probe prices: Σ (calls per request of a kind × what one call of that kind costs over a
 *   no-op request), each kind measured on its own at 4 connections minutes later
 *   (bench/lib/probe.mjs), with the calls per request from the instrumented copy
 *   (bench/lib/counts.mjs). Kept beside the first for the paths without a floor (estimate, n=4)
 *   and as a check; it moves with how busy the machine was when each kind was probed.
 */

import { percentile } from './stats.mjs';

const PATH_COUNTS = {
  miss: 'miss',
  hit: 'hit',
  estimate: 'estimate',
  'openai miss': 'openai_miss_n1',
  'openai hit': 'openai_hit_n1',
  'openai miss n=4': 'openai_miss_n4',
  'openai hit n=4': 'openai_hit_n4',
};

const round = (x) => Math.round(x * 100) / 100;

/** The storage floor row of a path, and what its non-storage part costs (see the top). */
const FLOORS = {
  miss: ['storage floor miss', 'floor'],
  'openai miss': ['storage floor miss', 'floor'],
  hit: ['storage floor hit', 'noop'],
  'openai hit': ['storage floor hit', 'noop'],
};

/**
 * One run of a path beside its floors: its workerd CPU and its storage share by the storage floor
 * (see the top), `cpu(name)` giving each row's workerd CPU per request; null when the path has no
 * floor or a row is missing.
 */
function floorRun(cpu, path) {
  const [floorPath, restPath] = FLOORS[path] ?? [];
  if (!floorPath) return null;
  const [own, floor, rest] = [cpu(path), cpu(floorPath), cpu(restPath)];
  return own == null || floor == null || rest == null ? null : { workerd: own, storage: round(floor - rest) };
}

const median = (values) => round(percentile(values, 50));

/** The probe's cost per kind of call, ms of workerd CPU over a no-op request. */
function probeCosts(probe) {
  const by = Object.fromEntries(probe.map((p) => [p.path, Math.max(0, p.over_noop_ms ?? 0)]));
  return { r2put: by['/r2put'], r2get: by['/r2get'], r2small: by['/r2get-small'], r2head: by['/r2head'] ?? by['/r2get-small'], d1read: by['/d1read'], d1write: by['/d1write'], do: by['/do'] };
}

/**
 * What the storage calls of one request cost the local simulators. A D1 round trip (one statement
 * or a batch) is priced as the mean of the probe's 1-statement read and 2-statement write batch:
 * the local D1's cost is mostly per round trip, and the gateway's batches mix reads and writes.
 * An R2 get is priced as the whole-object read on a hit path and as the small read (the lookup
 * that finds nothing) elsewhere.
 */
export function storageCost(perRequest, costs, isHit) {
  let singles = 0;
  let batches = 0;
  const parts = {};
  const add = (what, ms) => {
    parts[what] = round((parts[what] ?? 0) + ms);
  };
  for (const [label, n] of Object.entries(perRequest)) {
    const [kind] = label.split(' ');
    const op = label.includes('.') ? label.slice(label.lastIndexOf('.') + 1) : null;
    if (kind === 'D1' && ['first', 'all', 'run', 'raw'].includes(op)) singles += n;
    else if (kind === 'D1' && op === 'batch') batches += n;
    else if (kind === 'R2' && op === 'put') add('R2 put', n * costs.r2put);
    else if (kind === 'R2' && op === 'get') add('R2 get', n * (isHit ? costs.r2get : costs.r2small));
    else if (kind === 'R2' && op) add(`R2 ${op}`, n * costs.r2head);
    else if (kind === 'DO' && op) add('DO call', n * costs.do);
  }
  if (singles + batches) add('D1 round trip', (singles + batches) * ((costs.d1read + costs.d1write) / 2));
  return { total: round(Object.values(parts).reduce((a, b) => a + b, 0)), parts };
}

/**
 * @param {object[]} rows      the timed rows (with cpu_ms_per_request.workerd)
 * @param {object} counts      calls_per_request from counts.mjs
 * @param {object[]} probe     local_storage_cost from probe.mjs
 * @param {number} connections the level whose rows are used
 * @param {object[]} [rounds]  more runs of the floor paths and their floors at that level, each
 *                             { path: workerd CPU ms per request } (throughput.mjs, billedRounds):
 *                             a floor path's figure is the median over the row and these
 */
export function billedCpu(rows, counts, probe, connections, rounds = []) {
  if (!counts || !probe) return null;
  const costs = probeCosts(probe);
  const noopMs = probe.find((p) => p.path === '/noop')?.workerd_cpu_ms;
  const atLevel = (name) => (name === 'noop' ? noopMs : rows.find((r) => r.path === name && r.connections === connections && !r.na)?.cpu_ms_per_request?.workerd);
  const out = [];
  for (const [path, countName] of Object.entries(PATH_COUNTS)) {
    const row = rows.find((r) => r.path === path && r.connections === connections && !r.na);
    const c = counts[countName];
    if (!row || !c || row.cpu_ms_per_request?.workerd == null) continue;
    const storage = storageCost(c.per_request, costs, /hit/.test(path));
    const workerd = row.cpu_ms_per_request.workerd;
    const byPrices = round(workerd - storage.total);
    // each run of the path with its floors, in the same few seconds: the row, then the rounds
    const first = floorRun(atLevel, path);
    const runs = first ? [first, ...rounds.map((r) => floorRun((name) => r[name], path)).filter(Boolean)] : [];
    const byFloor = runs.length > 0;
    out.push({
      path,
      connections,
      workerd_cpu_ms: byFloor ? median(runs.map((r) => r.workerd)) : workerd,
      method: byFloor ? 'storage floor' : 'probe prices',
      local_storage_ms: byFloor ? median(runs.map((r) => r.storage)) : storage.total,
      own_cpu_ms: byFloor ? median(runs.map((r) => r.workerd - r.storage)) : byPrices,
      ...(runs.length ? { own_cpu_ms_each_run: runs.map((r) => round(r.workerd - r.storage)) } : {}),
      by_probe_prices: { local_storage_ms: storage.total, storage_parts: storage.parts, own_cpu_ms: byPrices },
    });
  }
  return out;
}
