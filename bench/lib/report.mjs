/** The machine a run was made on, and the printed table. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { ROOT } from './setup.mjs';

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

export function machine() {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 1e9),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    wrangler: versionOf('wrangler'),
    miniflare: versionOf('miniflare'),
    workerd: versionOf('workerd'),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const pad = (v, n, left = false) => {
  const s = v === null || v === undefined ? '–' : String(v);
  return left ? s.padEnd(n) : s.padStart(n);
};
const ms = (v) => (v === null || v === undefined ? null : v.toFixed(2));
const x = (v) => (v === null || v === undefined ? null : `${v.toFixed(2)}×`);

const HEAD = () =>
  `${pad('path', 36, true)} ${pad('conns', 5)} ${pad('req/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('×direct', 8)} ${pad('×floor', 8)} ${pad('×Portkey', 8)} ${pad('non-2xx', 8)} ${pad('workerd CPU ms/req', 19)} ${pad('wrk CPU', 8)}`;

function rowLine(name, row, ratios = row) {
  if (row.ok + row.non2xx === 0) return `${pad(name, 36, true)} ${pad(row.connections, 5)} no request finished within the run (${row.errors + (row.timeouts ?? 0)} errors); give it more --seconds`;
  const bad = row.non2xx + row.errors + (row.timeouts ?? 0);
  const cpu = name.trim() === 'direct' ? '' : name.trim() === 'portkey' ? `${row.cpu_ms_per_request?.portkey ?? '–'} (node)` : row.cpu_ms_per_request?.workerd;
  const client = row.client_cpu_share == null ? null : `${Math.round(row.client_cpu_share * 100)}%`;
  return `${pad(name, 36, true)} ${pad(row.connections, 5)} ${pad(row.rps, 9)} ${pad(ms(row.p50), 8)} ${pad(ms(row.p99), 8)} ${pad(x(ratios.x_direct), 8)} ${pad(x(ratios.x_floor), 8)} ${pad(x(ratios.x_portkey), 8)} ${pad(bad ? `${bad}!` : 0, 8)} ${pad(cpu, 19)} ${pad(client, 8)}`;
}

function mainTable(r, lines) {
  lines.push(HEAD());
  let last = null;
  for (const row of r.rows) {
    if (last !== null && row.connections !== last) lines.push('');
    last = row.connections;
    lines.push(row.na ? `${pad(row.path, 36, true)} ${pad(row.connections, 5)} ${pad('n/a', 9)}` : rowLine(row.path, row));
  }
  lines.push('(wrk CPU: the load generator\'s own CPU over the run\'s wall time; 100% is one core)');
  if (!r.slow_origin.length) return;
  lines.push('');
  lines.push('origin with 100 ms delay:');
  for (const s of r.slow_origin) {
    for (const name of ['direct', 'floor', 'storage_floor_miss', 'portkey', 'miss', 'openai_miss']) {
      const row = s[name];
      if (!row) continue;
      const over = (base) => (base?.rps ? row.rps / base.rps : null);
      const ratios = { x_direct: over(s.direct), x_floor: over(s.floor), x_portkey: over(s.portkey) };
      lines.push(rowLine(`  ${name.replaceAll('_', ' ')}`, { ...row, connections: s.connections }, ratios));
    }
    if (s.storage_floor_x_direct != null) {
      lines.push(`  @${s.connections}: the storage floor reaches ${x(s.storage_floor_x_direct)} direct, the most a gateway making a miss's storage calls can here; the miss is ${x(s.x_storage_floor)} the storage floor`);
    }
  }
}

function latencySection(lm, lines) {
  const d = lm.delays_ms;
  lines.push('');
  lines.push(`latency model (each call waits first: D1 ${d.d1} ms, R2 ${d.r2} ms, Durable Object ${d.do} ms, origin ${d.origin ?? 0} ms; ${lm.traced_requests_per_path} traced sequential requests per path):`);
  lines.push(`  ${pad('path', 34, true)} ${pad('added p50', 10)} ${pad('added p99', 10)} ${pad('seq. storage trips', 19)} ${pad('@10 conns p50/p99 − origin', 27)}  critical path`);
  for (const p of lm.paths) {
    const u = p.under_load_c10;
    const load = u?.note ? 'none finished' : u ? `${ms(u.added_p50_ms)} / ${ms(u.added_p99_ms)}${u.non2xx + u.errors ? ` ${u.non2xx + u.errors}!` : ''}` : '–';
    const kinds = Object.entries(p.critical_path_by_binding).map(([k, n]) => `${k.toUpperCase()} ${n}`).join(' + ') || 'none';
    lines.push(`  ${pad(p.path, 34, true)} ${pad(ms(p.added_p50_ms), 10)} ${pad(ms(p.added_p99_ms), 10)} ${pad(`${p.storage_round_trips_p50} (${kinds})`, 19)} ${pad(load, 27)}  ${p.critical_path.join(' → ') || '–'}`);
  }
  lines.push('  (added: client time minus the time inside origin calls; trips: the longest chain of D1/R2/DO calls that did not overlap, among those the answer waited for)');
}

function billedSection(rows, lines) {
  lines.push('');
  lines.push('the CPU Cloudflare would bill (workerd CPU per request minus the local storage simulators\' share; bench/README.md, "Billed CPU"):');
  for (const b of rows) {
    const p = b.by_probe_prices;
    const parts = Object.entries(p.storage_parts).map(([k, v]) => `${k} ${v}`).join(', ');
    const noise = b.own_cpu_ms < 0 ? '  below zero: within the noise of a busy machine' : '';
    const check = b.method === 'storage floor' ? `; by probe prices ${p.own_cpu_ms}` : '';
    const each = b.own_cpu_ms_each_run?.length > 1 ? `, the median of ${b.own_cpu_ms_each_run.join(' / ')}` : '';
    lines.push(`  ${pad(b.path, 20, true)} @${b.connections}: workerd ${pad(b.workerd_cpu_ms, 6)} − storage ${pad(b.local_storage_ms, 6)} = own ${pad(b.own_cpu_ms, 6)} ms/req  by ${b.method}${each}${check}  (${parts || 'no storage calls'})${noise}`);
  }
}

export function printReport(r, outFile) {
  const m = r.machine;
  const lines = [];
  lines.push('');
  lines.push(`imagegate bench — ${r.when}`);
  lines.push(`machine: ${m.cores} cores (${m.cpu}), Node ${m.node}, wrangler ${m.wrangler}, miniflare ${m.miniflare}, ${m.wrk}, Portkey ${m.portkey ?? 'not run'}, load avg ${m.loadavg.join(' ')} → ${m.loadavg_end?.join(' ') ?? '?'}`);
  lines.push(`origin answer: a ${m.png_bytes} byte PNG as OpenAI JSON; each run ${r.settings.seconds_per_run} s`);
  lines.push('');
  mainTable(r, lines);
  lines.push('');
  const wd = r.wrangler_dev;
  if (wd === null) lines.push('wrangler dev: not measured (--no-wrangler-dev, or skipped: see the notes)');
  else if (wd.error) lines.push(`wrangler dev: not measured (${wd.error})`);
  else {
    lines.push(
      `wrangler dev (for comparison; not how production runs): miss @${wd.connections} ${wd.rps} req/s, p50 ${ms(wd.p50)} ms, p99 ${ms(wd.p99)} ms` +
        ` = ${x(wd.x_miss_under_miniflare)} the miss under Miniflare, ${x(wd.x_floor_under_miniflare)} the floor${wd.non2xx + wd.errors ? `, ${wd.non2xx + wd.errors} non-2xx!` : ''}`,
    );
  }
  if (r.latency_model) latencySection(r.latency_model, lines);
  if (r.billed_cpu?.length) billedSection(r.billed_cpu, lines);
  if (r.targets?.length) {
    lines.push('');
    lines.push('targets:');
    const word = (t) => (t.met === null ? 'noise  ' : t.met ? 'met    ' : 'NOT MET');
    for (const t of r.targets) lines.push(`  ${word(t)} ${t.what}: ${t.unit ? `${t.seen} ${t.unit}` : x(t.seen)}${t.ceiling ? `  (${t.ceiling})` : ''}`);
  }
  if (r.calls_per_request) callsSection(r.calls_per_request, lines);
  if (r.local_storage_cost) {
    lines.push('');
    lines.push('what local storage costs workerd on its own (bench/probe-worker.js; in production these run elsewhere):');
    for (const p of r.local_storage_cost) {
      lines.push(`  ${pad(p.what, 32, true)} ${pad(p.rps, 8)} req/s  workerd CPU ${pad(p.workerd_cpu_ms, 6)} ms/req  (${p.over_noop_ms} over a no-op)${p.non2xx ? ` ${p.non2xx} non-2xx!` : ''}`);
    }
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  if (r.worker_log?.error_lines) lines.push(`note: the Worker logged ${r.worker_log.error_lines} request lines at level error${r.worker_log.error_samples[0] ? `, e.g. ${r.worker_log.error_samples[0]}` : ''}`);
  if (r.worker_log?.runtime_errors) lines.push(`note: workerd reported ${r.worker_log.runtime_errors} errors, e.g. ${r.worker_log.runtime_samples[0]}`);
  lines.push('');
  lines.push(`total ${r.total_seconds} s; figures written to ${path.relative(process.cwd(), outFile) || outFile}`);
  console.log(lines.join('\n'));
}

function callsSection(calls, lines) {
  lines.push('');
  lines.push('calls per request from the Worker (instrumented copy of the bundle; sequential requests unless under_load):');
  for (const [name, c] of Object.entries(calls)) {
    const parts = Object.entries(c.per_request).map(([k, v]) => `${k} ${v}`);
    const statuses = Object.entries(c.statuses).map(([k, v]) => `${k}×${v}`).join(' ');
    const grew = c.d1_bytes_per_request == null ? '' : `, D1 grew ${c.d1_bytes_per_request} B/request`;
    lines.push(`  ${pad(name, 28, true)} [${statuses}] ${parts.join(', ') || 'none'}${grew}`);
    const timesText = Object.entries(c.ms_per_request ?? {}).map(([k, v]) => `${k} ${v}`);
    if (timesText.length) lines.push(`  ${pad('', 28, true)}  ms: ${timesText.join(', ')}`);
  }
}
