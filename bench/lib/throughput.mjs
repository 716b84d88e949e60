/**
 * `npm run bench`: requests/s and p50/p99 for direct, the floor Worker, and the gateway's miss, hit
 * and estimate paths, at a few concurrency levels, each measured in the same run as its direct and
 * floor figures; a 100 ms origin variant; the `wrangler dev` figure; and calls per request.
 */
import { countCalls } from './counts.mjs';
import { probeStorage } from './probe.mjs';
import { children, cpuMeter } from './cpu.mjs';
import { load as plainLoad } from './load.mjs';
import { machine, printReport } from './report.mjs';
import { startStack } from './stack.mjs';
import { client, genBody, withHarness, workerLog, writeJson } from './setup.mjs';
import { wranglerDevMiss } from './wrangler-dev.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function runBench(opts) {
  const { quick, levels, seconds, maxRequests, slowLevels, wranglerDev, outFile } = opts;
  const runId = Date.now().toString(36);
  const started = Date.now();
  const report = {
    when: new Date().toISOString(),
    machine: machine(),
    settings: { quick, levels, seconds_per_run: seconds, max_requests_per_run: maxRequests, slow_origin_levels: slowLevels },
    notes: [],
    rows: [],
    slow_origin: [],
    wrangler_dev: null,
    calls_per_request: null,
    local_storage_cost: null,
  };
  try {
    return await withHarness(async (h) => {
      const { origin } = h;
      const laneUrl = `${origin.url}/o/bench`;
      const origins = [{ name: 'fast', kind: 'qubrid', url: laneUrl, models: ['*'], timeout_ms: 30_000 }];
      const stack = (h.stack = await startStack({ dir: h.dir, origins, floorTarget: laneUrl, counter: true, probe: true }));
      // CPU per request in workerd (Worker + local storage simulators) and in the origin, per run
      const groups = { workerd: children().workerd ?? [], origin: [origin.pid] };
      const load = async (opts) => {
        const meter = cpuMeter(groups);
        const r = await plainLoad(opts);
        return { ...r, cpu_ms_per_request: meter.stop(r.ok + r.non2xx) };
      };
      report.machine.png_bytes = origin.pngBytes;
      report.settings.bundle_ms = stack.bundleMs;
      report.settings.migrations = stack.migrations;
      const gw = client(stack.gatewayUrl);
      const tenant = await gw.tenant({ name: 'bench', budget_usd: '1000000', budget_period: 'month' });
      const key = await gw.key(tenant.id, { name: 'bench-throughput', budget_usd: '1000000', budget_period: 'month' });
      const rlKey = await gw.key(tenant.id, { name: 'bench-rpm', budget_usd: '1000000', budget_period: 'month', rate_limit_rpm: 1_000_000, max_concurrent: 1_000 });
      const auth = (k) => ({ authorization: `Bearer ${k.key}` });

      // probes: what each gateway path answers before any load, so a row is never mislabelled
      let seed = 1_000;
      const missBody = () => JSON.stringify(genBody(`bench miss ${runId}`, seed++));
      const hitBody = JSON.stringify(genBody(`bench hit ${runId}`, 42));
      const plainBody = JSON.stringify(genBody(`bench direct ${runId}`, 42));
      const probe = await gw.call('POST', '/image/generation', { key: key.key, json: JSON.parse(missBody()) });
      if (probe.status !== 200) throw new Error(`a miss through the gateway answered ${probe.status}: ${JSON.stringify(probe.body)}`);
      report.notes.push(`miss probe: Cache-Status "${probe.headers.get('cache-status')}", cost ${probe.headers.get('imagegate-cost-usd')} USD`);
      await gw.call('POST', '/image/generation', { key: key.key, json: JSON.parse(hitBody) });
      const hitProbe = await gw.call('POST', '/image/generation', { key: key.key, json: JSON.parse(hitBody) });
      const hitStatus = hitProbe.headers.get('cache-status') ?? '';
      const hitIsHit = hitProbe.status === 200 && /;\s*hit/.test(hitStatus);
      report.notes.push(`hit probe: ${hitProbe.status} Cache-Status "${hitStatus}"${hitIsHit ? '' : ' — NOT a cache hit: the hit row measures a miss'}`);
      const est = await gw.call('POST', '/v1/estimate', { key: key.key, json: JSON.parse(hitBody) });
      const hasEstimate = est.status === 200;
      if (!hasEstimate) report.notes.push(`estimate: POST /v1/estimate answered ${est.status}; reported as n/a`);

      const cases = [
        ['direct', { url: laneUrl, body: plainBody }],
        ['floor', { url: stack.floorUrl, body: plainBody }],
        ['miss', { url: `${stack.gatewayUrl}/image/generation`, headers: auth(key), nextBody: missBody }],
        ['hit', { url: `${stack.gatewayUrl}/image/generation`, headers: auth(key), body: hitBody }],
        ['estimate', hasEstimate ? { url: `${stack.gatewayUrl}/v1/estimate`, headers: auth(key), body: hitBody } : null],
      ];
      // warm-up: JIT, connection pools, isolate caches; not recorded
      for (const [, c] of cases) if (c) await load({ ...c, connections: 10, seconds: quick ? 0.5 : 1, maxRequests: 300 });

      for (const connections of levels) {
        const byName = {};
        for (const [name, c] of cases) {
          const r = c ? await load({ ...c, connections, seconds, maxRequests }) : null;
          byName[name] = r;
          report.rows.push({ path: name, connections, ...(r ?? { na: true }) });
        }
        for (const row of report.rows.filter((x) => x.connections === connections && !x.na)) {
          row.x_direct = byName.direct?.rps ? round(row.rps / byName.direct.rps) : null;
          row.x_floor = byName.floor?.rps ? round(row.rps / byName.floor.rps) : null;
        }
      }
      // the same miss with a key that has rpm / max_concurrent limits, so the rate limiter is on the path
      const rlLevel = levels.includes(10) ? 10 : levels.at(-1);
      const floorAt = report.rows.find((x) => x.path === 'floor' && x.connections === rlLevel);
      const directAt = report.rows.find((x) => x.path === 'direct' && x.connections === rlLevel);
      const rl = await load({ url: `${stack.gatewayUrl}/image/generation`, headers: auth(rlKey), nextBody: missBody, connections: rlLevel, seconds, maxRequests });
      report.rows.push({ path: 'miss, key with rpm+max_concurrent', connections: rlLevel, ...rl, x_direct: round(rl.rps / directAt.rps), x_floor: round(rl.rps / floorAt.rps) });

      // a 100 ms origin: the gateway's cost should vanish next to a real origin's latency
      await origin.setModes({ bench: 'slow-100' });
      for (const connections of slowLevels) {
        const direct = await load({ url: laneUrl, body: plainBody, connections, seconds, maxRequests });
        // the floor too: what any Worker here does with a slow origin, so the gateway's own share shows
        const floor = await load({ url: stack.floorUrl, body: plainBody, connections, seconds, maxRequests });
        const miss = await load({ url: `${stack.gatewayUrl}/image/generation`, headers: auth(key), nextBody: missBody, connections, seconds, maxRequests });
        report.slow_origin.push({
          connections,
          origin_delay_ms: 100,
          direct,
          floor,
          miss,
          x_direct: round(miss.rps / direct.rps),
          x_floor: round(miss.rps / floor.rps),
          floor_x_direct: round(floor.rps / direct.rps),
        });
      }
      await origin.setModes({ bench: 'png' });

      try {
        report.calls_per_request = await countCalls(stack.counterUrl, { n: quick ? 10 : 20, runId, hasEstimate, loadSeconds: quick ? 2 : 3 });
      } catch (err) {
        report.notes.push(`calls per request: not measured (${err.message})`);
      }
      try {
        report.local_storage_cost = await probeStorage(stack, { groups, seconds: quick ? 1 : 1.5 });
      } catch (err) {
        report.notes.push(`local storage cost: not measured (${err.message})`);
      }
      report.worker_log = workerLog(stack.stdio);
      await stack.dispose();
      h.stack = undefined;

      // the whole run stays under 3 minutes: on a machine this busy, the optional line goes first
      const elapsedS = (Date.now() - started) / 1000;
      if (wranglerDev && elapsedS > 140) report.notes.push(`wrangler dev: skipped, the run had already taken ${Math.round(elapsedS)} s`);
      else if (wranglerDev) {
        report.wrangler_dev = await wranglerDevMiss({
          dir: h.dir,
          origins,
          connections: 10,
          seconds: quick ? 2 : 4,
          maxRequests: 2_000,
          runId,
        });
        const floor10 = report.rows.find((x) => x.path === 'floor' && x.connections === 10);
        const miss10 = report.rows.find((x) => x.path === 'miss' && x.connections === 10);
        if (report.wrangler_dev.rps !== undefined && miss10) report.wrangler_dev.x_miss_under_miniflare = round(report.wrangler_dev.rps / miss10.rps);
        if (report.wrangler_dev.rps !== undefined && floor10) report.wrangler_dev.x_floor_under_miniflare = round(report.wrangler_dev.rps / floor10.rps);
      }
      report.targets = targets(report);
      report.machine.loadavg_end = machine().loadavg;
      report.total_seconds = Math.round((Date.now() - started) / 100) / 10;
      writeJson(outFile, report);
      printReport(report, outFile);
      return report;
    });
  } finally {
    await sleep(50);
  }
}

const round = (x) => Math.round(x * 100) / 100;

function targets(report) {
  const at = (p, c) => report.rows.find((x) => x.path === p && x.connections === c && !x.na);
  const out = [];
  for (const c of report.settings.levels) {
    const miss = at('miss', c);
    const hit = at('hit', c);
    if (miss) out.push({ what: `miss ≥ 0.4× floor @${c}`, target: 0.4, seen: miss.x_floor, met: miss.x_floor >= 0.4 });
    if (hit) out.push({ what: `hit ≥ 0.6× floor @${c}`, target: 0.6, seen: hit.x_floor, met: hit.x_floor >= 0.6 });
  }
  for (const s of report.slow_origin) out.push({ what: `miss ≥ 0.95× direct, 100 ms origin @${s.connections}`, target: 0.95, seen: s.x_direct, met: s.x_direct >= 0.95 });
  return out;
}
