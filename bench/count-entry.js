/**
 * The counting copy of the gateway, for the per-request call counts (bench, "calls per request").
 * Copied next to the bundle (it imports ./index.js, the exact production bundle) and run as its own
 * Worker with its own storage, so the timed runs measure the bundle untouched.
 *
 * It hands the gateway an env whose D1, R2, KV and Durable Object bindings count what the
 * gateway's own code calls (a D1 batch is one round trip of n statements), and counts fetch()
 * subrequests (origin calls). Calls made inside a Durable Object are not seen: they are the
 * object's own storage, not a round trip from the Worker.
 *   GET  /__bench/counts   the counts so far
 *   POST /__bench/reset    zero them
 */
import gateway from './index.js';
export * from './index.js';

const counts = {};
const bump = (name, n = 1) => {
  counts[name] = (counts[name] ?? 0) + n;
};

/**
 * Wall time inside each kind of call, summed (workerd's clock moves across I/O, which is what these
 * are). Concurrent calls of one request overlap, so the sums can exceed the request's own time.
 */
const times = {};
function timed(label, out) {
  if (!out || typeof out.then !== 'function') return out;
  const t0 = Date.now();
  const done = () => {
    times[label] = (times[label] ?? 0) + (Date.now() - t0);
  };
  return out.then(
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

const realFetch = globalThis.fetch;
globalThis.fetch = function countedFetch(...args) {
  bump('fetch (subrequest)');
  return timed('fetch', realFetch.apply(this, args));
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

function wrapStatement(stmt, binding) {
  return wrapMethods(stmt, (p, v, t, args) => {
    if (p === 'bind') return wrapStatement(v.apply(t, args), binding);
    if (['first', 'all', 'run', 'raw'].includes(p)) {
      bump(`D1 ${binding} round trips`);
      bump(`D1 ${binding} statements`);
      return timed(`D1 ${binding}`, v.apply(t, args));
    }
    return v.apply(t, args);
  });
}

function wrapD1(db, binding) {
  return wrapMethods(db, (p, v, t, args) => {
    if (p === 'prepare') return wrapStatement(v.apply(t, args), binding);
    if (p === 'batch') {
      const statements = args[0] ?? [];
      bump(`D1 ${binding} round trips`);
      bump(`D1 ${binding} statements`, statements.length);
      bump(`D1 ${binding} batches`);
      return timed(`D1 ${binding}`, v.apply(t, [statements.map((s) => wrapped.get(s) ?? s), ...args.slice(1)]));
    }
    if (p === 'exec') {
      bump(`D1 ${binding} round trips`);
      return timed(`D1 ${binding}`, v.apply(t, args));
    }
    if (p === 'withSession') return wrapD1(v.apply(t, args), binding);
    return v.apply(t, args);
  });
}

function wrapCalls(obj, label) {
  return wrapMethods(obj, (p, v, t, args) => {
    bump(`${label}.${p}`);
    return timed(`${label}.${p}`, v.apply(t, args));
  });
}

function wrapNamespace(ns, binding) {
  return wrapMethods(ns, (p, v, t, args) => {
    const out = v.apply(t, args);
    if (p === 'get' || p === 'getByName') return wrapCalls(out, `DO ${binding}`);
    if (p === 'jurisdiction') return wrapNamespace(out, binding);
    return out;
  });
}

let countedEnv = null;
function counted(env) {
  if (countedEnv && countedEnv.raw === env) return countedEnv.env;
  const kinds = JSON.parse(env.BENCH_COUNT_BINDINGS ?? '{}');
  const out = { ...env };
  for (const b of kinds.d1 ?? []) if (env[b]) out[b] = wrapD1(env[b], b);
  for (const b of kinds.r2 ?? []) if (env[b]) out[b] = wrapCalls(env[b], `R2 ${b}`);
  for (const b of kinds.kv ?? []) if (env[b]) out[b] = wrapCalls(env[b], `KV ${b}`);
  for (const b of kinds.do ?? []) if (env[b]) out[b] = wrapNamespace(env[b], b);
  delete out.BENCH_COUNT_BINDINGS;
  countedEnv = { raw: env, env: out };
  return out;
}

export default {
  ...gateway,
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path === '/__bench/counts') return Response.json({ counts, times });
    if (path === '/__bench/reset') {
      for (const k of Object.keys(counts)) delete counts[k];
      for (const k of Object.keys(times)) delete times[k];
      return Response.json({ ok: true });
    }
    bump('requests');
    return timed('whole request (to response)', gateway.fetch(request, counted(env), ctx));
  },
  async scheduled(controller, env, ctx) {
    return gateway.scheduled?.(controller, counted(env), ctx);
  },
};
