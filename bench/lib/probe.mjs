/**
 * What each kind of local storage call costs workerd on its own (bench/probe-worker.js), so the
 * gateway's CPU per request can be split into its own work and the local simulators' — which in
 * production run elsewhere and cost the Worker no CPU.
 */
import { PNG } from '../fast-origin.mjs';
import { cpuMeter, waitIdle } from './cpu.mjs';
import { load } from './load.mjs';

const CASES = [
  ['no-op request', '/noop', 'GET'],
  ['R2 put, 105 KB', '/r2put', 'POST', PNG],
  ['R2 get, 105 KB returned', '/r2get', 'GET'],
  ['R2 get, 16-byte range', '/r2get-small', 'GET'],
  ['R2 head', '/r2head', 'GET'],
  ['D1 read (1 statement)', '/d1read', 'GET'],
  ['D1 write batch (2 statements)', '/d1write', 'GET'],
  ['Durable Object RPC call', '/do', 'GET'],
];

export async function probeStorage(stack, { groups, seconds }) {
  const bucket = await stack.probeBucket();
  await bucket.put('fixed', new Uint8Array(PNG)); // a plain copy: the proxy cannot send a pooled Buffer
  const out = [];
  let noop = 0;
  for (const [what, path, method, body] of CASES) {
    const meter = cpuMeter(groups);
    const r = await load({ url: `${stack.probeUrl}${path}`, method, ...(body ? { body } : {}), headers: {}, connections: 4, seconds });
    const cpu = meter.stop(r.ok + r.non2xx).workerd;
    await waitIdle(groups.workerd); // a slow case's leftovers would be charged to the next one
    if (path === '/noop') noop = cpu ?? 0;
    out.push({ what, path, rps: r.rps, p50: r.p50, non2xx: r.non2xx, workerd_cpu_ms: cpu, over_noop_ms: cpu === null ? null : Math.round((cpu - noop) * 100) / 100 });
  }
  return out;
}
