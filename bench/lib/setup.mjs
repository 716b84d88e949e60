/**
 * What the bench and the soak share: the bundled Worker, the loopback origin, and Miniflare running
 * the Worker as production does (local D1, R2, Durable Objects, queues), configured from wrangler.toml at
 * run time so new bindings and Durable Object classes are picked up without touching the bench.
 */
import { spawnSync, fork } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH = path.join(ROOT, 'bench');
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
export const MODEL = 'stabilityai/stable-diffusion-3.5-large';
export const QUIET_WRANGLER = { WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
const WRANGLER_BIN = path.join(ROOT, 'node_modules', '.bin', 'wrangler');

/**
 * Synchronous clean-ups that run however the process ends (Ctrl-C included: Miniflare's own signal
 * handler stops workerd and exits, so anything async would never finish): stop the origin and
 * `wrangler dev` (its own process group, which the terminal's signal does not reach), remove the
 * scratch directory.
 */
const exitCleanups = new Set();
let exitHooked = false;
export function onExit(fn) {
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const f of [...exitCleanups].reverse()) {
        try {
          f();
        } catch {
          // best effort while exiting
        }
      }
    });
  }
  exitCleanups.add(fn);
  return () => exitCleanups.delete(fn);
}

/** A scratch directory for the bundle and local state; removed by cleanup(). */
export function scratch() {
  const dir = mkdtempSync(path.join(tmpdir(), 'imagegate-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }) };
}

/**
 * A run's scaffolding: a scratch directory, a started origin, and the stack the run keeps in
 * `h.stack`. All of it is stopped when `run` ends, however it ends (the synchronous part even on
 * Ctrl-C, through onExit).
 */
export async function withHarness(run) {
  const scratchDir = scratch();
  const h = { dir: scratchDir.dir, origin: undefined, stack: undefined };
  const forget = onExit(() => {
    h.origin?.stop();
    scratchDir.cleanup();
  });
  try {
    h.origin = await startOrigin();
    return await run(h);
  } finally {
    forget();
    await h.stack?.dispose().catch(() => undefined);
    h.origin?.stop();
    scratchDir.cleanup();
  }
}

/** What the Worker's stdout and stderr showed during a run, for the report. */
export function workerLog(stdio) {
  return { lines: stdio.lines, error_lines: stdio.errors, error_samples: stdio.samples, runtime_errors: stdio.runtime, runtime_samples: stdio.runtimeSamples };
}

/** `wrangler deploy --dry-run --outdir`: the exact bundle production runs. */
export function bundle(outdir, config) {
  // `npm install` fills the assets directory; an empty one is enough for the bench's routes
  if (config?.assets?.directory) mkdirSync(path.resolve(ROOT, config.assets.directory), { recursive: true });
  const r = spawnSync(WRANGLER_BIN, ['deploy', '--dry-run', '--outdir', outdir], {
    cwd: ROOT,
    env: { ...process.env, ...QUIET_WRANGLER },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${r.stdout}\n${r.stderr}`);
  return path.join(outdir, 'index.js');
}

export function wranglerVersion() {
  const r = spawnSync(WRANGLER_BIN, ['--version'], { cwd: ROOT, env: { ...process.env, ...QUIET_WRANGLER }, encoding: 'utf8', timeout: 30_000 });
  return (r.stdout ?? '').trim().split('\n').pop() ?? 'unknown';
}

/** Forks bench/fast-origin.mjs; resolves with its base URL, a mode setter and stop(). */
export function startOrigin() {
  const child = fork(path.join(BENCH, 'fast-origin.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bench origin did not start within 10 s')), 10_000);
    child.once('error', reject);
    child.once('message', ({ port, pngBytes }) => {
      clearTimeout(timer);
      const url = `http://127.0.0.1:${port}`;
      resolve({
        url,
        pid: child.pid,
        pngBytes,
        setModes: async (lanes) => {
          const r = await fetch(`${url}/__mode`, { method: 'POST', body: JSON.stringify({ lanes }) });
          if (!r.ok) throw new Error(`origin /__mode: ${r.status}`);
        },
        stats: async () => (await fetch(`${url}/__stats`)).json(),
        stop: () => {
          if (child.exitCode === null) child.kill('SIGTERM');
        },
      });
    });
  });
}

/** wrangler.toml, read through wrangler itself so the bench sees the same bindings a deploy would. */
export async function readWranglerConfig() {
  const { unstable_readConfig, unstable_splitSqlQuery } = await import('wrangler');
  const config = unstable_readConfig({ config: path.join(ROOT, 'wrangler.toml') }, {});
  return { config, splitSql: unstable_splitSqlQuery };
}

let warnedUnsupported = false; // the bindings warning, once per run

/**
 * Miniflare worker options for the gateway from wrangler.toml: D1, R2, KV, queues and every Durable
 * Object binding (SQLite-backed when a migration says so). `idSuffix` gives a worker its own storage.
 */
export function gatewayWorkerOptions(config, { name, scriptPath, bindings, idSuffix = '' }) {
  const sqlite = new Set((config.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  const unsupported = ['services', 'vectorize', 'ai', 'hyperdrive', 'analytics_engine_datasets']
    .filter((k) => { const v = config[k]; return Array.isArray(v) ? v.length > 0 : v && (v.producers?.length || v.binding); });
  if (unsupported.length && !warnedUnsupported) console.warn(`bench: wrangler.toml has bindings the bench does not emulate: ${unsupported.join(', ')}`);
  warnedUnsupported ||= unsupported.length > 0;
  // Static assets (the docs viewer) are left out: Miniflare would put its asset router in front of
  // every request, and the bench's routes never read them (the Worker treats ASSETS as optional).
  const vars = Object.fromEntries(Object.entries(config.vars ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  return {
    name,
    modules: true,
    scriptPath,
    // module names are paths relative to this; the default (the cwd) cannot reach a temp dir
    modulesRoot: path.dirname(scriptPath),
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings: { ...vars, ...bindings },
    d1Databases: Object.fromEntries((config.d1_databases ?? []).map((d) => [d.binding, `${d.database_id ?? d.database_name}${idSuffix}`])),
    r2Buckets: Object.fromEntries((config.r2_buckets ?? []).map((b) => [b.binding, `${b.bucket_name}${idSuffix}`])),
    kvNamespaces: Object.fromEntries((config.kv_namespaces ?? []).map((k) => [k.binding, `${k.id ?? k.binding}${idSuffix}`])),
    durableObjects: Object.fromEntries(
      (config.durable_objects?.bindings ?? []).map((b) => [
        b.name,
        { className: b.class_name, useSQLite: sqlite.has(b.class_name), ...(b.script_name ? { scriptName: b.script_name } : {}) },
      ]),
    ),
    ...queueOptions(config, idSuffix),
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
  };
}

/**
 * wrangler.toml's queues as Miniflare runs them: the producer bindings, and this Worker as the
 * consumer of the queues it consumes, with the same batch size, batch timeout, retries and
 * dead-letter queue. Miniflare's queue honours a message's `retry({ delaySeconds })`, so webhook
 * retries wait as in production. `idSuffix` gives a worker queues of its own (two consumers of
 * one queue would share its messages).
 */
function queueOptions(config, idSuffix) {
  const named = (queue) => `${queue}${idSuffix}`;
  const producers = config.queues?.producers ?? [];
  const consumers = config.queues?.consumers ?? [];
  if (producers.length === 0 && consumers.length === 0) return {};
  return {
    queueProducers: Object.fromEntries(producers.map((p) => [p.binding, { queueName: named(p.queue), ...(p.delivery_delay !== undefined ? { deliveryDelay: p.delivery_delay } : {}) }])),
    queueConsumers: Object.fromEntries(
      consumers.map((c) => [
        named(c.queue),
        {
          ...(c.max_batch_size !== undefined ? { maxBatchSize: c.max_batch_size } : {}),
          ...(c.max_batch_timeout !== undefined ? { maxBatchTimeout: c.max_batch_timeout } : {}),
          ...(c.max_retries !== undefined ? { maxRetries: c.max_retries } : {}),
          ...(c.retry_delay !== undefined ? { retryDelay: c.retry_delay } : {}),
          ...(c.dead_letter_queue ? { deadLetterQueue: named(c.dead_letter_queue) } : {}),
        },
      ]),
    ),
  };
}

/** Applies migrations/*.sql in order through the D1 binding, as `wrangler d1 migrations apply` would. */
export async function applyMigrations(db, config, splitSql) {
  const dir = path.join(ROOT, config.d1_databases?.[0]?.migrations_dir ?? 'migrations');
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  for (const file of files) {
    const statements = splitSql(readFileSync(path.join(dir, file), 'utf8')).filter((s) => s.trim());
    if (statements.length) await db.batch(statements.map((s) => db.prepare(s)));
  }
  return files;
}

/**
 * Counts the Worker's log lines instead of printing them (optionally keeping them all in a file).
 * Request lines at level "error" (a 502 is one) are counted apart from what workerd itself
 * reports (an uncaught exception, a request that could never answer), which is kept as samples.
 */
export function runtimeStdio(sink, logFile) {
  const file = logFile ? createWriteStream(logFile) : null;
  return (stdout, stderr) => {
    const watch = (stream, isErr) => {
      let rest = '';
      stream.on('data', (chunk) => {
        file?.write(chunk);
        const text = rest + chunk.toString('utf8');
        const lines = text.split('\n');
        rest = lines.pop() ?? '';
        if (isErr) sink.stderrTail = (sink.stderrTail + text).slice(-4000);
        for (const line of lines) {
          if (!line.trim()) continue;
          sink.lines++;
          if (line.startsWith('{')) {
            if (line.includes('"level":"error"')) sink.errors++;
            if (line.includes('"level":"error"') && !line.includes('"status":50') && sink.samples.length < 5) sink.samples.push(line.slice(0, 400));
          } else if (/error|uncaught|exception|never generate|exceeded|terminat/i.test(line)) {
            sink.runtime++;
            if (sink.runtimeSamples.length < 8) sink.runtimeSamples.push(line.slice(0, 400));
          }
        }
      });
    };
    watch(stdout, false);
    watch(stderr, true);
  };
}

/** A small admin/tenant client for a gateway base URL. */
export function client(base) {
  const call = async (method, p, { admin = false, key, json, headers = {} } = {}) => {
    const h = { ...headers };
    if (admin) h.authorization = `Bearer ${ADMIN_TOKEN}`;
    if (key) h.authorization = `Bearer ${key}`;
    if (json !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(base + p, { method, headers: h, body: json === undefined ? undefined : JSON.stringify(json), signal: AbortSignal.timeout(30_000) });
    const type = res.headers.get('content-type') ?? '';
    const body = type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body };
  };
  return {
    call,
    async tenant(fields) {
      const r = await call('POST', '/admin/tenants', { admin: true, json: fields });
      if (r.status !== 201) throw new Error(`POST /admin/tenants: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async key(tenantId, fields) {
      const r = await call('POST', `/admin/tenants/${tenantId}/keys`, { admin: true, json: fields });
      if (r.status !== 201) throw new Error(`POST keys: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
  };
}

/** Body of a generation request; the origin ignores it, the gateway prices and caches by it. */
export function genBody(prompt, seed, extra = {}) {
  return { model: MODEL, positive_prompt: prompt, width: 1024, height: 1024, steps: 30, ...(seed === undefined ? {} : { seed }), ...extra };
}

/** Copies a file template into the scratch build directory (the counting wrapper imports ./index.js). */
export function placeNextToBundle(template, buildDir, name) {
  const dest = path.join(buildDir, name);
  copyFileSync(path.join(BENCH, template), dest);
  return dest;
}

export function writeJson(file, value) {
  writeFileSync(file, `${JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

/** "0.001992295" → 1992295n nano-USD; null for anything that is not a plain decimal USD string. */
export function usdToNano(s) {
  if (typeof s !== 'string' || !/^\d+(\.\d{1,9})?$/.test(s)) return null;
  const [i, f = ''] = s.split('.');
  return BigInt(i) * 1_000_000_000n + BigInt(f.padEnd(9, '0'));
}

const MAGIC = [[0x89, 0x50, 0x4e, 0x47], [0xff, 0xd8, 0xff], [0x52, 0x49, 0x46, 0x46]];
export function isImage(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const riffWebp = b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50;
  return MAGIC.some((m, i) => m.every((v, j) => b[j] === v) && (i !== 2 || riffWebp));
}
