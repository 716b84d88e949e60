/**
 * A sampling CPU profile of the gateway's own JavaScript on misses (bench/README.md,
 * "Where a miss's CPU goes"): the bundled gateway in Miniflare with workerd's inspector on, the
 * bench's loopback origin answering the 105 KB PNG as OpenAI JSON, V8's profiler over `--requests`
 * misses (of `/image/generation` with `--native`). Prints the isolate's sampled time per miss,
 * the Worker's and its Durable Objects', and self time per function, heaviest first, each as
 * samples × the interval. The sampler does not keep its interval here, so read them as shares,
 * not milliseconds (bench/README.md). The D1, R2 and Durable Object simulators run in isolates of
 * their own, so what they cost is not in this profile. The line before the table is workerd's CPU
 * per miss (gateway and simulators) measured without the profiler.
 *
 *   node bench/lib/cpu-profile-miss.mjs [--requests 250] [--top 40] [--interval-us 250] [--native] [--save FILE.cpuprofile] [--no-profile]
 *   PROFILE_TRACE=1 …   also prints each answer's status and the Worker's log lines
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { children, cpuMeter } from './cpu.mjs';
import { busyTime, durableObjectFrames, inspect, profiled, selfTimes } from './inspector.mjs';
import { ADMIN_TOKEN, MODEL, applyMigrations, bundle, client, gatewayWorkerOptions, genBody, readWranglerConfig, withHarness } from './setup.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const INSPECTOR_PORT = arg('--inspector-port', 9329);

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
  const native = process.argv.includes('--native');
  let seed = 1;
  const miss = async () => {
    const r = native
      ? await gw.call('POST', '/image/generation', { key: key.key, json: genBody('profile', seed++) })
      : await gw.call('POST', '/v1/images/generations', { key: key.key, json: { model: MODEL, prompt: 'profile', n: 1, size: '1024x1024', seed: seed++ } });
    if (process.env.PROFILE_TRACE) console.log(seed - 1, r.status);
    if (r.status !== 200) throw new Error(`miss answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  };
  for (let i = 0; i < 30; i++) await miss(); // warm the JIT
  // workerd's CPU per miss without the profiler (which slows the isolate it samples several-fold)
  const meter = cpuMeter({ workerd: children().workerd ?? [] });
  for (let i = 0; i < requests; i++) await miss();
  console.log(`workerd CPU per miss, sequential, no profiler: ${meter.stop(requests).workerd} ms (gateway and local storage simulators)`);
  if (process.argv.includes('--no-profile')) return;
  const session = await inspect(INSPECTOR_PORT, 'gateway');
  const intervalUs = arg('--interval-us', 250);
  const profile = await profiled(session, intervalUs, async () => {
    for (let i = 0; i < requests; i++) await miss();
  });
  session.close();
  const saveAt = process.argv.indexOf('--save');
  if (saveAt > 0) writeFileSync(process.argv[saveAt + 1], JSON.stringify(profile)); // opens in Chrome DevTools
  const rows = selfTimes(profile, intervalUs);
  const t = busyTime(profile, intervalUs, durableObjectFrames(scriptPath));
  const per = (ms) => (ms / requests).toFixed(2);
  console.log(`${requests} misses, sampled per miss (samples × interval): the Worker ${per(t.busy_ms)} ms (JavaScript ${per(t.js_ms)}, native ${per(t.native_ms)}, GC ${per(t.gc_ms)}), its Durable Objects ${per(t.do_ms)} ms`);
  console.log('| function | ms per miss |\n| --- | ---: |');
  for (const [fn, ms] of rows.slice(0, arg('--top', 40))) console.log(`| ${fn} | ${(ms / requests).toFixed(3)} |`);
});
