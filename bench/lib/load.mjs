/**
 * One bounded load run with wrk (a C load generator: on 2 cores it drives the floor Worker well past
 * what a Node client could, so the rows measure the targets and not the client). The body is either
 * fixed (a file) or a template with `__SEED__`, filled in per request by bench/lib/wrk.lua with a
 * fresh seed. Each run reports the CPU wrk itself used, so a reader can see it is not the limit.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BENCH } from './setup.mjs';

const SCRIPT = path.join(BENCH, 'lib', 'wrk.lua');
let seedBlock = 0;

function hasWrk() {
  return spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
}

/**
 * wrk on PATH, installed from the distribution's packages when missing (as root with apt-get, or
 * with `sudo -n`); throws with what to do when it cannot be.
 */
export function ensureWrk() {
  if (hasWrk()) return versionOfWrk();
  const root = process.getuid?.() === 0;
  const prefix = root ? [] : ['sudo', '-n'];
  const apt = (args) => spawnSync(prefix[0] ?? 'apt-get', [...prefix.slice(1), ...(root ? [] : ['apt-get']), ...args], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 300_000 });
  console.error('bench: wrk is not installed; installing the Debian package `wrk`…');
  let r = apt(['install', '-y', '-qq', 'wrk']);
  if (r.status !== 0) {
    apt(['update', '-qq']);
    r = apt(['install', '-y', '-qq', 'wrk']);
  }
  if (r.status !== 0 || !hasWrk()) {
    throw new Error(
      'the bench drives its load with wrk, which is not installed and could not be installed here ' +
        `(${(r.error?.message ?? r.stderr ?? '').trim().split('\n').pop() || 'apt-get failed'}). ` +
        'Install it (Debian/Ubuntu: `sudo apt-get install wrk`; macOS: `brew install wrk`) and run the bench again. ' +
        'The soak (--soak) does not need it.',
    );
  }
  return versionOfWrk();
}

function versionOfWrk() {
  try {
    execFileSync('wrk', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // wrk --version exits 1 after printing its banner
    return String(err.stdout ?? '').split('\n')[0].split(' [')[0].trim() || 'wrk';
  }
  return 'wrk';
}

const ms = (us) => Math.round(us / 10) / 100;

/** bash's `times`: the second line is the children's user and system time, e.g. "0m1.020s 0m0.300s". */
function childCpuMs(timesOutput) {
  const line = timesOutput.trim().split('\n').at(-1) ?? '';
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60_000 + Number(m[2]) * 1000);
  return parts.length === 2 ? parts[0] + parts[1] : null;
}

/**
 * @param {object} o
 * @param {string} o.url
 * @param {Record<string,string>} [o.headers]
 * @param {string|Uint8Array} [o.body]  a fixed body
 * @param {string} [o.template]         a body with __SEED__ where each request's own seed goes
 * @param {number} [o.seedStep]         how far apart two requests' seeds are (n images use n seeds)
 * @param {number} o.connections
 * @param {number} o.seconds            whole seconds (wrk's unit); at least 1
 * @returns {Promise<{rps:number, p50:number|null, p90:number|null, p99:number|null, ok:number, non2xx:number, errors:number, timeouts:number, seconds:number, client_cpu_ms_per_request:number|null, client_cpu_share:number|null}>}
 */
export async function load({ url, method = 'POST', headers = {}, body, template, seedStep = 1, connections, seconds, timeoutS = 10 }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'imagegate-wrk-'));
  try {
    const env = { ...process.env, WRK_METHOD: method };
    if (template !== undefined) {
      if (!template.includes('__SEED__')) throw new Error('load: a template needs __SEED__');
      env.WRK_TEMPLATE = template;
      // every run its own block of seeds, so no run's "miss" is served from an earlier run's cache
      env.WRK_SEED_START = String(10_000_000 + (seedBlock++ % 100) * 40_000_000);
      env.WRK_SEED_STEP = String(seedStep);
    } else if (body !== undefined) {
      env.WRK_BODY_FILE = path.join(dir, 'body');
      writeFileSync(env.WRK_BODY_FILE, body);
    }
    const h = { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...headers };
    const threads = Math.min(2, connections);
    const duration = Math.max(1, Math.round(seconds));
    const args = ['-t', String(threads), '-c', String(connections), '-d', `${duration}s`, '--timeout', `${timeoutS}s`, '-s', SCRIPT];
    for (const [k, v] of Object.entries(h)) args.push('-H', `${k}: ${v}`);
    args.push(url);
    const { stdout, stderr, code } = await run(args, env, (duration + timeoutS + 10) * 1000);
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
    if (!line) throw new Error(`wrk gave no result (exit ${code}): ${(stderr || stdout).trim().slice(-400)}`);
    const w = JSON.parse(line.slice('WRK_JSON '.length));
    const elapsed = w.duration_us / 1e6;
    const ok = w.requests - w.non2xx;
    const clientMs = childCpuMs(stdout);
    return {
      rps: Math.round((ok / elapsed) * 10) / 10,
      p50: ms(w.p50_us),
      p90: ms(w.p90_us),
      p99: ms(w.p99_us),
      ok,
      non2xx: w.non2xx,
      errors: w.connect_errors + w.read_errors + w.write_errors,
      timeouts: w.timeouts,
      seconds: Math.round(elapsed * 100) / 100,
      client_cpu_ms_per_request: clientMs === null || !w.requests ? null : Math.round((clientMs / w.requests) * 1000) / 1000,
      // the client's CPU over the run's wall time: 1.0 is one core fully busy
      client_cpu_share: clientMs === null ? null : Math.round((clientMs / 1000 / elapsed) * 100) / 100,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** wrk under bash, so `times` can report the CPU wrk used once it has exited. */
function run(args, env, hardStopMs) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', 'wrk "$@"; rc=$?; times; exit $rc', 'wrk', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const guard = setTimeout(() => child.kill('SIGKILL'), hardStopMs);
    child.once('error', (err) => {
      clearTimeout(guard);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(guard);
      resolve({ stdout, stderr, code });
    });
  });
}
