/**
 * Starts the measured stack in one Miniflare (one workerd): the bundled gateway, the floor Worker,
 * and optionally the counting copy of the gateway (bench/count-entry.js, with its own storage).
 * Each Worker gets its own direct loopback socket, so requests reach it without Miniflare's entry
 * Worker in between, as close to production routing as a local run gets.
 */
import path from 'node:path';
import { Miniflare } from 'miniflare';
import {
  ADMIN_TOKEN,
  BENCH,
  applyMigrations,
  bundle,
  gatewayWorkerOptions,
  placeNextToBundle,
  readWranglerConfig,
  runtimeStdio,
} from './setup.mjs';

/**
 * @param {object} o
 * @param {string} o.dir        scratch directory (bundle + local state)
 * @param {object[]} o.origins  the gateway's ORIGINS
 * @param {string} [o.floorTarget]  where the floor Worker forwards to (omit: no floor)
 * @param {boolean} [o.counter] also run the counting copy of the gateway
 * @param {boolean} [o.probe]   also run bench/probe-worker.js (what local storage costs on its own,
 *                              and the storage floors, which forward to floorTarget)
 * @param {Uint8Array} [o.png]  the image the storage floors store and serve
 * @param {Record<string,string>} [o.extraBindings]
 * @param {string} [o.logFile]  where the Worker's log lines go (default: counted, not kept)
 * @param {boolean} [o.instrumented] run the gateway itself through bench/count-entry.js, so its
 *                              storage calls can be made to fail (the soak's storage faults)
 */
export async function startStack({ dir, origins, floorTarget, counter = false, probe = false, png, extraBindings = {}, logFile, instrumented: wrapGateway = false }) {
  const buildDir = path.join(dir, 'build');
  const { config, splitSql } = await readWranglerConfig();
  const t0 = Date.now();
  const scriptPath = bundle(buildDir, config);
  const bundleMs = Date.now() - t0;
  const bindings = { ADMIN_TOKEN, ORIGINS: JSON.stringify(origins), ...extraBindings };
  const bindingKinds = {
    d1: (config.d1_databases ?? []).map((d) => d.binding),
    r2: (config.r2_buckets ?? []).map((b) => b.binding),
    kv: (config.kv_namespaces ?? []).map((k) => k.binding),
    do: (config.durable_objects?.bindings ?? []).map((b) => b.name),
  };
  const instrumented = (name, extra, idSuffix = '') => {
    const options = gatewayWorkerOptions(config, {
      name,
      scriptPath: placeNextToBundle('count-entry.js', buildDir, 'count-entry.js'),
      bindings: { ...bindings, BENCH_COUNT_BINDINGS: JSON.stringify(bindingKinds), ...extra },
      idSuffix,
    });
    // the wrapper imports the bundle: let Miniflare read every .js as an ES module
    options.modulesRules = [{ type: 'ESModule', include: ['**/*.js'] }];
    return options;
  };
  const workers = [wrapGateway ? instrumented('gateway', {}) : gatewayWorkerOptions(config, { name: 'gateway', scriptPath, bindings })];
  if (floorTarget) {
    workers.push({
      name: 'floor',
      modules: true,
      scriptPath: path.join(BENCH, 'floor-worker.js'),
      modulesRoot: BENCH,
      compatibilityDate: config.compatibility_date,
      bindings: { ORIGIN_URL: floorTarget },
      unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    });
  }
  if (counter) workers.push(instrumented('counter', {}, '-counter'));
  if (probe) {
    workers.push({
      name: 'probe',
      modules: true,
      scriptPath: path.join(BENCH, 'probe-worker.js'),
      modulesRoot: BENCH,
      compatibilityDate: config.compatibility_date,
      d1Databases: { DB: 'bench-probe' },
      r2Buckets: { BUCKET: 'bench-probe' },
      durableObjects: { PROBE: { className: 'Probe', useSQLite: true } },
      bindings: floorTarget ? { ORIGIN_URL: floorTarget } : {},
      unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    });
  }
  const stdio = { lines: 0, errors: 0, samples: [], runtime: 0, runtimeSamples: [], stderrTail: '' };
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    defaultPersistRoot: path.join(dir, 'state'),
    handleRuntimeStdio: runtimeStdio(stdio, logFile),
    workers,
  });
  try {
    await mf.ready;
  } catch (err) {
    await mf.dispose().catch(() => undefined);
    throw new Error(`Miniflare did not start: ${err.message}\n${stdio.stderrTail}`);
  }
  const url = async (name) => (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, '');
  const applied = await applyMigrations(await mf.getD1Database('DB', 'gateway'), config, splitSql);
  const stack = {
    mf,
    config,
    stdio,
    bundleMs,
    migrations: applied,
    gatewayUrl: await url('gateway'),
    floorUrl: floorTarget ? await url('floor') : null,
    counterUrl: null,
    db: () => mf.getD1Database('DB', 'gateway'),
    bucket: () => mf.getR2Bucket(config.r2_buckets?.[0]?.binding ?? 'IMAGES', 'gateway'),
    dispose: () => mf.dispose(),
  };
  if (probe) {
    const db = await mf.getD1Database('DB', 'probe');
    await db.batch([
      db.prepare('CREATE TABLE probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)'),
      db.prepare('INSERT INTO probe VALUES (1, 0)'),
      db.prepare('CREATE TABLE probe_log (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)'),
    ]);
    stack.probeUrl = await url('probe');
    stack.probeBucket = () => mf.getR2Bucket('BUCKET', 'probe');
    if (png) await (await stack.probeBucket()).put('fixed', new Uint8Array(png)); // a plain copy: the proxy cannot send a pooled Buffer
  }
  if (counter) {
    await applyMigrations(await mf.getD1Database('DB', 'counter'), config, splitSql);
    stack.counterUrl = await url('counter');
  }
  return stack;
}
