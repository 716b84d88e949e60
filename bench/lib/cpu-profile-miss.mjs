/**
 * A sampling CPU profile of the gateway's own JavaScript on OpenAI-route misses (bench/README.md,
 * "Where a miss's CPU goes"): the bundled gateway in Miniflare with workerd's inspector on, the
 * bench's loopback origin answering the 105 KB PNG as OpenAI JSON, V8's profiler over `--requests`
 * misses. Prints self time per function, heaviest first. The D1, R2 and Durable Object simulators
 * run in isolates of their own, so what they cost is not in this profile (it is what billed-cpu.mjs
 * subtracts); the gateway's Durable Objects are, since they are the gateway's code.
 *
 * The profiler slows the isolate it samples several-fold, so read its figures as shares, not
 * as milliseconds; the line before the table is workerd's CPU per miss measured without it.
 *
 *   node bench/lib/cpu-profile-miss.mjs [--requests 250] [--top 40] [--no-profile]
 *   PROFILE_TRACE=1 …   also prints each answer's status and the Worker's log lines
 */
import path from 'node:path';
import { Miniflare } from 'miniflare';
import WebSocket from 'ws';
import { children, cpuMeter } from './cpu.mjs';
import { ADMIN_TOKEN, MODEL, applyMigrations, bundle, client, gatewayWorkerOptions, readWranglerConfig, withHarness } from './setup.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const INSPECTOR_PORT = arg('--inspector-port', 9329);

/** A minimal DevTools-protocol session over the inspector's WebSocket. */
async function inspect(name) {
  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json();
  const target = targets.find((t) => t.id === `core:user:${name}` || t.title?.includes(name)) ?? targets[0];
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

/** Self time per function from a V8 CPU profile, in ms, heaviest first. */
function selfTimes(profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const ms = new Map();
  const deltas = profile.timeDeltas;
  profile.samples.forEach((nodeId, i) => {
    const f = byNode.get(nodeId).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
    ms.set(key, (ms.get(key) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
  });
  return [...ms.entries()].sort((a, b) => b[1] - a[1]);
}

/**
 * workerd's stdout and stderr: shown with PROFILE_TRACE, else read and dropped. A pipe nobody
 * reads fills after about 64 KB (some 300 requests' log lines), and then workerd blocks on its
 * next log line: every later request hangs.
 */
function keepStdio(out, err) {
  if (process.env.PROFILE_TRACE) {
    out.pipe(process.stdout);
    err.pipe(process.stderr);
  } else {
    out.resume();
    err.resume();
  }
}

await withHarness(async (h) => {
  const requests = arg('--requests', 250);
  const { config, splitSql } = await readWranglerConfig();
  const scriptPath = bundle(path.join(h.dir, 'build'), config);
  const origins = [{ name: 'fast', kind: 'openai', url: `${h.origin.url}/o/bench`, models: ['*'], timeout_ms: 30_000 }];
  const options = gatewayWorkerOptions(config, { name: 'gateway', scriptPath, bindings: { ADMIN_TOKEN, ORIGINS: JSON.stringify(origins) } });
  const mf = new Miniflare({ host: '127.0.0.1', port: 0, inspectorPort: INSPECTOR_PORT, defaultPersistRoot: path.join(h.dir, 'state'), workers: [options], handleRuntimeStdio: keepStdio });
  h.stack = { dispose: () => mf.dispose() };
  await mf.ready;
  await applyMigrations(await mf.getD1Database('DB', 'gateway'), config, splitSql);
  const base = (await mf.unsafeGetDirectURL('gateway')).href.replace(/\/$/, '');
  const gw = client(base);
  const tenant = await gw.tenant({ name: 'profile', budget_usd: '1000000', budget_period: 'month' });
  const key = await gw.key(tenant.id, { name: 'profile', budget_usd: '1000000', budget_period: 'month' });
  let seed = 1;
  const miss = async () => {
    const r = await gw.call('POST', '/v1/images/generations', { key: key.key, json: { model: MODEL, prompt: 'profile', n: 1, size: '1024x1024', seed: seed++ } });
    if (process.env.PROFILE_TRACE) console.log(seed - 1, r.status);
    if (r.status !== 200) throw new Error(`miss answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  };
  for (let i = 0; i < 30; i++) await miss(); // warm the JIT
  // workerd's CPU per miss without the profiler (which slows the isolate it samples several-fold)
  const meter = cpuMeter({ workerd: children().workerd ?? [] });
  for (let i = 0; i < requests; i++) await miss();
  console.log(`workerd CPU per miss, sequential, no profiler: ${meter.stop(requests).workerd} ms (gateway and local storage simulators)`);
  if (process.argv.includes('--no-profile')) return;
  const session = await inspect('gateway');
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 100 });
  await session.send('Profiler.start');
  for (let i = 0; i < requests; i++) await miss();
  const { result } = await session.send('Profiler.stop');
  session.close();
  const rows = selfTimes(result.profile);
  const total = rows.reduce((sum, [, ms]) => sum + ms, 0);
  console.log(`${requests} misses, ${(total / requests).toFixed(2)} ms of sampled time per miss in the gateway's isolate (idle included)`);
  console.log('| function | ms per miss |\n| --- | ---: |');
  for (const [fn, ms] of rows.slice(0, arg('--top', 40))) console.log(`| ${fn} | ${(ms / requests).toFixed(3)} |`);
});
