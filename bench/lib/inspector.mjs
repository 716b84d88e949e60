/**
 * V8's sampling profiler on one Worker's isolate, through workerd's inspector (Miniflare's
 * `inspectorPort`), for the miss profile (cpu-profile-miss.mjs).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';

/** A minimal DevTools-protocol session with the isolate of the Worker `name`. */
export async function inspect(port, name) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.id === `core:user:${name}` || t.title?.includes(name));
  if (!target) throw new Error(`workerd's inspector has no isolate for the Worker '${name}'`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const waiting = new Map();
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.id && waiting.has(m.id)) waiting.get(m.id)(m);
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      waiting.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** Runs `work` under the profiler, sampling every `intervalUs`; answers its profile. */
export async function profiled(session, intervalUs, work) {
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.send('Profiler.start');
  const failure = await work().then(() => null, (err) => err);
  const { result } = await session.send('Profiler.stop');
  if (failure) throw failure;
  return result.profile;
}

/**
 * The profiler takes a sample only while the isolate is entered (holds its lock): its JavaScript,
 * the runtime's native calls made for it, its garbage collection. The count of samples times the
 * interval would be the time it ran if the sampler kept its interval; here it does not (bench/
 * README.md, "Where a miss's CPU goes"), so compare these figures with each other only. "(idle)"
 * samples (entered, doing nothing) are left out.
 *
 * With `inDurableObject` (from `durableObjectFrames`), a sample whose outermost frame of the
 * bundle lies in a Durable Object's module is the Durable Object's time (`do_ms`): the Worker's
 * calls into its objects are asynchronous, so an object's method always starts a stack of its own.
 * Samples with no frame of the bundle (native, GC) stay the Worker's.
 */
export function busyTime(profile, intervalUs, inDurableObject = () => false) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerOf = new Map(); // node id → 'do' | 'worker', by its outermost frame of the bundle
  const owner = (id) => {
    if (ownerOf.has(id)) return ownerOf.get(id);
    const up = parent.get(id);
    const outer = up === undefined ? null : owner(up);
    const inObject = inDurableObject(byId.get(id).callFrame);
    const mine = outer ?? (inObject === null ? null : inObject ? 'do' : 'worker');
    ownerOf.set(id, mine);
    return mine;
  };
  const count = { js: 0, gc: 0, native: 0, idle: 0, do: 0 };
  for (const id of profile.samples) {
    const name = byId.get(id).callFrame.functionName;
    if (name === '(idle)') count.idle++;
    else if (owner(id) === 'do') count.do++;
    else if (name === '(garbage collector)') count.gc++;
    else if (name === '(program)' || name === '(root)') count.native++;
    else count.js++;
  }
  const ms = (n) => (n * intervalUs) / 1000;
  return { busy_ms: ms(count.js + count.gc + count.native), js_ms: ms(count.js), gc_ms: ms(count.gc), native_ms: ms(count.native), do_ms: ms(count.do), samples: profile.samples.length };
}

/**
 * Which frames of a profile are a Durable Object's code: wrangler's bundle marks where each source
 * module starts (`// src/durable-objects/coalescer.ts`). Answers, for a frame, true (a Durable
 * Object's module), false (another module of the bundle) or null (not the bundle's: the runtime's
 * own modules, native frames).
 */
export function durableObjectFrames(bundlePath) {
  const starts = [];
  readFileSync(bundlePath, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const m = /^\/\/ ((?:src|node_modules)\/\S+)$/.exec(line);
      if (m) starts.push([i, m[1].startsWith('src/durable-objects/')]);
    });
  const name = path.basename(bundlePath);
  return (frame) => {
    if (!frame.url || path.basename(frame.url) !== name) return null;
    let lo = 0;
    let hi = starts.length - 1;
    let found = false;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid][0] <= frame.lineNumber) {
        found = starts[mid][1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

/**
 * Self time per function from a V8 CPU profile, in ms, heaviest first: samples × the interval.
 * (Not the samples' time deltas: a sample is taken only while the isolate runs, so a delta also
 * spans the time it waited before.)
 */
export function selfTimes(profile, intervalUs) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const ms = new Map();
  for (const nodeId of profile.samples) {
    const f = byNode.get(nodeId).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
    ms.set(key, (ms.get(key) ?? 0) + intervalUs / 1000);
  }
  return [...ms.entries()].sort((a, b) => b[1] - a[1]);
}
