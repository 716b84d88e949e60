/**
 * The instrumented copy of the gateway (bench/README.md, "Calls per request", "Latency model",
 * "Storage faults"). Copied next to the bundle (it imports ./index.js, the exact production bundle)
 * and run as its own Worker, so the timed runs measure the bundle untouched.
 *
 * It hands the gateway an env whose D1, R2, KV and Durable Object bindings go through a wrapper,
 * and wraps fetch() (the origin calls). The wrapper
 *   - counts what the gateway's own code calls (a D1 batch is one round trip of n statements);
 *     calls made inside a Durable Object are its own storage, not a round trip, and are not seen;
 *   - can delay every call (the latency model: what a deployed gateway waits for each round trip);
 *   - can make a fraction of the D1, R2 and Durable Object calls throw (storage faults, the soak);
 *   - can keep, per request, when each call started and ended (the trace the critical path is
 *     computed from).
 * Control, on the same Worker:
 *   GET  /__bench/counts   the counts and wall times so far
 *   POST /__bench/reset    zero them, and drop the traces
 *   POST /__bench/config   {"delays": {"d1","r2","do","kv","origin"} ms, "faults": 0.01, "trace": true}
 *   GET  /__bench/traces   the traces kept since the last reset (at most 500)
 * The bindings BENCH_DELAYS and BENCH_FAULTS set the same from the start (the soak's gateway).
 */
import gateway from './index.js';
export * from './index.js';

const counts = {};
const times = {};
const bump = (name, n = 1) => {
  counts[name] = (counts[name] ?? 0) + n;
};
const config = { delays: {}, faults: 0, trace: false };
let configured = false;
let traces = [];
const MAX_TRACES = 500;
let faultsThrown = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One call through the wrapper: the configured delay first (the round trip's latency), then
 * either an injected fault or the real call; its wall time goes to `times` and, when the request
 * is traced, to the request's trace. workerd's clock moves across I/O, which is what these are.
 */
function call(ctx, kind, label, real) {
  bump(label);
  const delay = config.delays[kind] ?? 0;
  const fault = kind !== 'origin' && config.faults > 0 && Math.random() < config.faults;
  const t0 = Date.now();
  const done = () => {
    const t1 = Date.now();
    times[label] = (times[label] ?? 0) + (t1 - t0);
    ctx?.calls.push({ kind, label, start: t0 - ctx.t0, end: t1 - ctx.t0 });
  };
  const run = async () => {
    if (delay > 0) await sleep(delay);
    if (fault) {
      faultsThrown++;
      bump('storage faults thrown');
      throw new Error(`bench: injected storage fault in ${label}`);
    }
    return real();
  };
  return run().then(
    (v) => {
      done();
      return v;
    },
    (e) => {
      done();
      throw e;
    },
  );
}

// fetch() is global, not per env: it is attributed to the request being traced, which is exact
// when requests are sequential (the latency model's traced runs are).
let currentTrace = null;
const realFetch = globalThis.fetch;
globalThis.fetch = function countedFetch(...args) {
  return call(currentTrace, 'origin', 'fetch (subrequest)', () => realFetch.apply(this, args));
};

const wrapped = new WeakMap(); // proxy → target, so a real batch() gets real statements

function wrapMethods(target, onCall) {
  const proxy = new Proxy(target, {
    get(t, p) {
      const v = Reflect.get(t, p, t);
      if (typeof v !== 'function' || typeof p === 'symbol' || p === 'then' || p === 'constructor') return v;
      // call it as t[p](…) rather than v.apply(t, …): an RPC stub's methods only work that way
      const invoke = { apply: (_t, a) => t[p](...a) };
      return (...args) => onCall(p, invoke, t, args);
    },
  });
  wrapped.set(proxy, target);
  return proxy;
}

/** D1's own meters for what a call did (rows_read / rows_written, index rows included), when it reports them. */
const d1Size = {}; // binding → the database's size in bytes after its latest call (D1's meta.size_after)
function meter(binding, result) {
  for (const r of Array.isArray(result) ? result : [result]) {
    const m = r?.meta;
    if (!m) continue;
    if (typeof m.size_after === 'number') d1Size[binding] = m.size_after;
    if (typeof m.rows_written === 'number') bump(`D1 ${binding} rows written`, m.rows_written);
    if (typeof m.rows_read === 'number') bump(`D1 ${binding} rows read`, m.rows_read);
  }
  return result;
}

function wrapStatement(ctx, stmt, binding) {
  return wrapMethods(stmt, (p, v, t, args) => {
    if (p === 'bind') return wrapStatement(ctx, v.apply(t, args), binding);
    if (['first', 'all', 'run', 'raw'].includes(p)) {
      bump(`D1 ${binding} round trips`);
      bump(`D1 ${binding} statements`);
      return call(ctx, 'd1', `D1 ${binding}.${p}`, () => v.apply(t, args)).then((r) => meter(binding, r));
    }
    return v.apply(t, args);
  });
}

function wrapD1(ctx, db, binding) {
  return wrapMethods(db, (p, v, t, args) => {
    if (p === 'prepare') return wrapStatement(ctx, v.apply(t, args), binding);
    if (p === 'batch') {
      const statements = args[0] ?? [];
      bump(`D1 ${binding} round trips`);
      bump(`D1 ${binding} statements`, statements.length);
      return call(ctx, 'd1', `D1 ${binding}.batch`, () => v.apply(t, [statements.map((s) => wrapped.get(s) ?? s), ...args.slice(1)])).then((r) => meter(binding, r));
    }
    if (p === 'exec') {
      bump(`D1 ${binding} round trips`);
      return call(ctx, 'd1', `D1 ${binding}.exec`, () => v.apply(t, args));
    }
    if (p === 'withSession') return wrapD1(ctx, v.apply(t, args), binding);
    return v.apply(t, args);
  });
}

function wrapCalls(ctx, obj, kind, label) {
  return wrapMethods(obj, (p, v, t, args) => call(ctx, kind, `${label}.${p}`, () => v.apply(t, args)));
}

function wrapNamespace(ctx, ns, binding) {
  return wrapMethods(ns, (p, v, t, args) => {
    const out = v.apply(t, args);
    if (p === 'get' || p === 'getByName') return wrapCalls(ctx, out, 'do', `DO ${binding}`);
    if (p === 'jurisdiction') return wrapNamespace(ctx, out, binding);
    return out;
  });
}

/** The env the gateway sees: each storage binding wrapped, the calls attributed to `ctx` when traced. */
function wrapEnv(env, ctx) {
  const kinds = JSON.parse(env.BENCH_COUNT_BINDINGS ?? '{}');
  const out = { ...env };
  for (const b of kinds.d1 ?? []) if (env[b]) out[b] = wrapD1(ctx, env[b], b);
  for (const b of kinds.r2 ?? []) if (env[b]) out[b] = wrapCalls(ctx, env[b], 'r2', `R2 ${b}`);
  for (const b of kinds.kv ?? []) if (env[b]) out[b] = wrapCalls(ctx, env[b], 'kv', `KV ${b}`);
  for (const b of kinds.do ?? []) if (env[b]) out[b] = wrapNamespace(ctx, env[b], b);
  for (const name of ['BENCH_COUNT_BINDINGS', 'BENCH_DELAYS', 'BENCH_FAULTS']) delete out[name];
  return out;
}

// untraced requests share one wrapped env, as the gateway's isolate would see one env
let sharedEnv = null;
function envFor(env, ctx) {
  if (!configured) {
    configured = true;
    config.delays = JSON.parse(env.BENCH_DELAYS ?? '{}');
    config.faults = Number(env.BENCH_FAULTS ?? 0);
  }
  if (ctx) return wrapEnv(env, ctx);
  if (!sharedEnv || sharedEnv.raw !== env) sharedEnv = { raw: env, env: wrapEnv(env, null) };
  return sharedEnv.env;
}

async function control(request, path) {
  if (path === '/__bench/counts') return Response.json({ counts, times, faults_thrown: faultsThrown, config, d1_size_bytes: d1Size });
  if (path === '/__bench/traces') return Response.json({ traces });
  if (path === '/__bench/reset') {
    for (const o of [counts, times]) for (const k of Object.keys(o)) delete o[k];
    traces = [];
    return Response.json({ ok: true });
  }
  if (path === '/__bench/config' && request.method === 'POST') {
    const body = await request.json();
    configured = true;
    if (body.delays) config.delays = body.delays;
    if (body.faults !== undefined) config.faults = Number(body.faults);
    if (body.trace !== undefined) config.trace = Boolean(body.trace);
    return Response.json({ config });
  }
  return new Response('no such bench control', { status: 404 });
}

/** A traced request: the calls it makes until it answers and after (waitUntil), with their times. */
async function traced(request, env, ctx) {
  const trace = { t0: Date.now(), method: request.method, path: new URL(request.url).pathname, calls: [], response_ms: null, status: null };
  if (traces.length < MAX_TRACES) traces.push(trace);
  currentTrace = trace;
  try {
    const response = await gateway.fetch(request, envFor(env, trace), ctx);
    trace.response_ms = Date.now() - trace.t0;
    trace.status = response.status;
    return response;
  } finally {
    if (currentTrace === trace) currentTrace = null;
  }
}

export default {
  ...gateway,
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path.startsWith('/__bench/')) return control(request, path);
    bump('requests');
    if (config.trace) return traced(request, env, ctx);
    const t0 = Date.now();
    try {
      return await gateway.fetch(request, envFor(env, null), ctx);
    } finally {
      times['whole request (to response)'] = (times['whole request (to response)'] ?? 0) + (Date.now() - t0);
    }
  },
  async scheduled(controller, env, ctx) {
    return gateway.scheduled?.(controller, envFor(env, null), ctx);
  },
  async queue(batch, env, ctx) {
    return gateway.queue?.(batch, envFor(env, null), ctx);
  },
};
