/**
 * Where a miss's CPU goes (bench/README.md, "Where a miss's CPU goes"): runs each step of a miss
 * that is the gateway's own work on the bench's 105 KB PNG — parse the origin's OpenAI JSON,
 * base64-decode, check the whole image, SHA-256 for R2, base64-encode and serialise the answer —
 * many times inside workerd (bench/cpu-profile-worker.ts, bundled with the gateway's own
 * functions), and reads workerd's CPU from /proc around each batch. Same runtime, same V8, same
 * code as a request; nothing else runs in that workerd.
 *
 *   node bench/lib/cpu-profile.mjs [--target-ms 1500]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { PNG } from '../fast-origin.mjs';
import { children } from './cpu.mjs';
import { BENCH, QUIET_WRANGLER, ROOT, readWranglerConfig } from './setup.mjs';

const STEPS = ['json-decode-parse', 'base64-decode', 'inspect-image', 'sha256', 'base64-encode', 'json-stringify'];
const TICK_MS = 10;

function ticks(pid) {
  const stat = spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** The profile Worker bundled by wrangler (the same bundler as the gateway's), in `dir`. */
function bundleWorker(dir, compatibilityDate, flags) {
  const config = path.join(dir, 'wrangler.toml');
  writeFileSync(config, `name = "cpu-profile"\nmain = "${path.join(BENCH, 'cpu-profile-worker.ts')}"\ncompatibility_date = "${compatibilityDate}"\ncompatibility_flags = ${JSON.stringify(flags)}\n`);
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--config', config, '--outdir', path.join(dir, 'out')], {
    cwd: ROOT,
    env: { ...process.env, ...QUIET_WRANGLER },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bundling the profile Worker failed:\n${r.stdout}\n${r.stderr}`);
  return path.join(dir, 'out', 'cpu-profile-worker.js');
}

/** workerd CPU ms for `requests` requests of `n` runs of a step. */
async function cpuOf(base, pid, step, n, requests) {
  const before = ticks(pid);
  for (let i = 0; i < requests; i++) {
    const r = await fetch(`${base}/${step}?n=${n}`);
    if (!r.ok) throw new Error(`${step}: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }
  return (ticks(pid) - before) * TICK_MS;
}

async function main() {
  const targetMs = Number(process.argv[process.argv.indexOf('--target-ms') + 1]) || 1500;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imagegate-cpu-profile-'));
  const { config } = await readWranglerConfig();
  // the gateway's flags: its CRC-32 is node:zlib's, under nodejs_compat
  const flags = config.compatibility_flags ?? [];
  const scriptPath = bundleWorker(dir, config.compatibility_date, flags);
  const mf = new Miniflare({ modules: true, scriptPath, modulesRoot: path.dirname(scriptPath), compatibilityDate: config.compatibility_date, compatibilityFlags: flags, host: '127.0.0.1', port: 0 });
  try {
    const base = (await mf.ready).href.replace(/\/$/, '');
    const sizes = await (await fetch(`${base}/setup`, { method: 'POST', body: new Uint8Array(PNG) })).json();
    const pid = children().workerd?.[0];
    if (!pid) throw new Error('no workerd process found');
    const perRequest = (await cpuOf(base, pid, 'noop', 1, 200)) / 200;
    console.log(`PNG ${sizes.png} bytes, OpenAI JSON ${sizes.answer} bytes; workerd ${perRequest.toFixed(2)} ms per empty request`);
    console.log('| step | ms per image |\n| --- | ---: |');
    for (const step of STEPS) {
      await cpuOf(base, pid, step, 20, 2); // warm: the JIT's first runs are not what a busy Worker pays
      const guess = Math.max(await cpuOf(base, pid, step, 50, 1), TICK_MS) / 50;
      const n = Math.max(50, Math.round(targetMs / 5 / guess));
      const ms = ((await cpuOf(base, pid, step, n, 5)) - 5 * perRequest) / (5 * n);
      console.log(`| ${step} | ${ms.toFixed(3)} |`);
    }
  } finally {
    await mf.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
