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
    autocannon: versionOf('autocannon'),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const pad = (v, n, left = false) => {
  const s = v === null || v === undefined ? '–' : String(v);
  return left ? s.padEnd(n) : s.padStart(n);
};
const ms = (v) => (v === null || v === undefined ? null : v.toFixed(2));
const x = (v) => (v === null || v === undefined ? null : `${v.toFixed(2)}×`);

export function printReport(r, outFile) {
  const m = r.machine;
  const lines = [];
  lines.push('');
  lines.push(`imagegate bench — ${r.when}`);
  lines.push(`machine: ${m.cores} cores (${m.cpu}), Node ${m.node}, wrangler ${m.wrangler}, miniflare ${m.miniflare}, load avg ${m.loadavg.join(' ')} → ${m.loadavg_end?.join(' ') ?? '?'}`);
  lines.push(`origin answer: ${m.png_bytes} byte PNG; each run ≤ ${r.settings.seconds_per_run} s and ≤ ${r.settings.max_requests_per_run} requests`);
  lines.push('');
  lines.push(`${pad('path', 36, true)} ${pad('conns', 5)} ${pad('req/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('×direct', 8)} ${pad('×floor', 8)} ${pad('non-2xx', 8)} ${pad('workerd CPU ms/req', 19)}`);
  let last = null;
  for (const row of r.rows) {
    if (last !== null && row.connections !== last) lines.push('');
    last = row.connections;
    if (row.na) {
      lines.push(`${pad(row.path, 36, true)} ${pad(row.connections, 5)} ${pad('n/a', 9)}`);
      continue;
    }
    const bad = row.non2xx + row.errors;
    lines.push(
      `${pad(row.path, 36, true)} ${pad(row.connections, 5)} ${pad(row.rps, 9)} ${pad(ms(row.p50), 8)} ${pad(ms(row.p99), 8)} ${pad(x(row.x_direct), 8)} ${pad(x(row.x_floor), 8)} ${pad(bad ? `${bad}!` : 0, 8)} ${pad(row.path === 'direct' ? '' : row.cpu_ms_per_request?.workerd, 19)}`,
    );
  }
  if (r.slow_origin.length) {
    lines.push('');
    lines.push('origin with 100 ms delay:');
    for (const s of r.slow_origin) {
      lines.push(`${pad('  direct', 36, true)} ${pad(s.connections, 5)} ${pad(s.direct.rps, 9)} ${pad(ms(s.direct.p50), 8)} ${pad(ms(s.direct.p99), 8)}`);
      if (s.floor) {
        lines.push(`${pad('  floor', 36, true)} ${pad(s.connections, 5)} ${pad(s.floor.rps, 9)} ${pad(ms(s.floor.p50), 8)} ${pad(ms(s.floor.p99), 8)} ${pad(x(s.floor_x_direct), 8)} ${pad(x(1), 8)} ${pad(s.floor.non2xx + s.floor.errors || 0, 8)} ${pad(s.floor.cpu_ms_per_request?.workerd, 19)}`);
      }
      lines.push(`${pad('  miss', 36, true)} ${pad(s.connections, 5)} ${pad(s.miss.rps, 9)} ${pad(ms(s.miss.p50), 8)} ${pad(ms(s.miss.p99), 8)} ${pad(x(s.x_direct), 8)} ${pad(x(s.x_floor), 8)} ${pad(s.miss.non2xx + s.miss.errors || 0, 8)} ${pad(s.miss.cpu_ms_per_request?.workerd, 19)}`);
    }
  }
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
  if (r.targets?.length) {
    lines.push('');
    lines.push('targets:');
    for (const t of r.targets) lines.push(`  ${t.met ? 'met    ' : 'NOT MET'} ${t.what}: ${x(t.seen)}`);
  }
  if (r.calls_per_request) {
    lines.push('');
    lines.push('calls per request from the Worker (counting copy of the bundle; sequential requests):');
    for (const [name, c] of Object.entries(r.calls_per_request)) {
      const parts = Object.entries(c.per_request).map(([k, v]) => `${k} ${v}`);
      const statuses = Object.entries(c.statuses).map(([k, v]) => `${k}×${v}`).join(' ');
      lines.push(`  ${pad(name, 28, true)} [${statuses}] ${parts.join(', ') || 'none'}`);
      const timesText = Object.entries(c.ms_per_request ?? {}).map(([k, v]) => `${k} ${v}`);
      if (timesText.length) lines.push(`  ${pad('', 28, true)}  ms: ${timesText.join(', ')}`);
    }
  }
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
