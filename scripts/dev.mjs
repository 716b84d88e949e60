#!/usr/bin/env node
// `npm run dev` (docs/configuration.md): the gateway on http://127.0.0.1:${PORT:-8787} with local D1,
// R2 and Durable Objects, no internet and no Cloudflare account needed.
//
//   1. makes sure .dev.vars has an ADMIN_TOKEN and an IMAGE_URL_SECRET (writes random ones, keeping
//      every other line)
//   2. checks the origin configuration with the Worker's own code (src/origins/config.ts) and exits
//      non-zero, naming each problem, before anything is served (docs/operations.md)
//   3. applies the local D1 migrations
//   4. starts `wrangler dev`, with ORIGINS pointing at the bundled local origin unless .dev.vars
//      sets ORIGINS itself (then wrangler uses those), and WEBHOOK_ALLOW_LOOPBACK=true unless
//      .dev.vars sets it
//   5. once /healthz answers, creates (or reuses) a demo tenant and key through the admin API and
//      prints ready-to-paste `export` lines and a curl
//   6. runs the scheduled handler at the top of every minute, as the production cron does
//   7. Ctrl-C / SIGTERM stops wrangler and exits cleanly
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEV_VARS = path.join(ROOT, '.dev.vars');
const DEMO_FILE = path.join(ROOT, '.wrangler', 'imagegate-demo.json');
const WRANGLER = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT || 8787);
const BASE = `http://${HOST}:${PORT}`;
const LOCAL_ORIGINS = JSON.stringify([{ name: 'local', kind: 'local', models: ['*'] }]);
const STARTUP_TIMEOUT_MS = 120_000;
/** The production cron (wrangler.toml [triggers]) fires every minute. */
const CRON = '* * * * *';
const CRON_PERIOD_MS = 60_000;

// wrangler: no telemetry, no banner, no request to Cloudflare for `request.cf` (works offline)
const childEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

const say = (line = '') => process.stdout.write(`${line}\n`);
const die = (message) => {
  process.stderr.write(`npm run dev: ${message}\n`);
  process.exit(1);
};

if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) die(`PORT must be a TCP port, got ${JSON.stringify(process.env.PORT)}`);
if (!existsSync(WRANGLER)) die('wrangler is not installed: run `npm install` first');

// ------------------------------------------------------------------ .dev.vars

/** The variables of a dotenv file, as wrangler reads them (KEY=value, optionally quoted; # comments). */
function parseDotenv(text) {
  const vars = {};
  const line = /^[ \t]*(?:export[ \t]+)?([\w.-]+)[ \t]*=[ \t]*('(?:\\'|[^'])*'|"(?:\\"|[^"])*"|`(?:\\`|[^`])*`|[^#\r\n]*)?[ \t]*(?:#.*)?$/gm;
  for (const m of text.matchAll(line)) {
    let value = (m[2] ?? '').trim();
    const q = value[0];
    if ((q === '"' || q === "'" || q === '`') && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
    }
    vars[m[1]] = value;
  }
  return vars;
}

/** Secrets that `npm run dev` makes up when .dev.vars lacks them (or has them empty). */
const GENERATED_SECRETS = {
  ADMIN_TOKEN: () => `igadm_${randomBytes(24).toString('base64url')}`,
  IMAGE_URL_SECRET: () => randomBytes(32).toString('base64url'),
};

/** .dev.vars' variables, after writing a random value for each generated secret it lacks. */
function ensureDevSecrets() {
  const text = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, 'utf8') : '';
  const vars = parseDotenv(text);
  const missing = Object.keys(GENERATED_SECRETS).filter((name) => !vars[name]);
  if (missing.length === 0) return { vars, wrote: [] };
  // keep every other line as it is; an empty NAME= line is replaced
  const replaced = new RegExp(`^\\s*(?:export\\s+)?(?:${missing.join('|')})\\s*=`);
  const kept = text.split(/\r?\n/).filter((l) => !replaced.test(l));
  while (kept.length && kept.at(-1) === '') kept.pop();
  const made = Object.fromEntries(missing.map((name) => [name, GENERATED_SECRETS[name]()]));
  for (const [name, value] of Object.entries(made)) kept.push(`${name}=${value}`);
  kept.push('');
  writeFileSync(DEV_VARS, kept.join('\n'), { mode: 0o600 });
  return { vars: { ...vars, ...made }, wrote: missing };
}

// ------------------------------------------------------------------ the configuration check

/**
 * The Worker's own configProblems() (src/origins/config.ts), bundled with the esbuild that wrangler
 * brings (resolved from wrangler, which depends on it), so this check and the deployed Worker's
 * /healthz can never disagree on a rule.
 */
async function workerConfigProblems(env) {
  const { build } = createRequire(WRANGLER)('esbuild');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imagegate-config-'));
  const outfile = path.join(dir, 'config.mjs');
  try {
    await build({ entryPoints: [path.join(ROOT, 'src', 'origins', 'config.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile, logLevel: 'error' });
    const { configProblems } = await import(pathToFileURL(outfile).href);
    return configProblems(env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ processes

/** Runs wrangler to completion (stdin closed and CI set, so it never waits for an answer). */
let step = null;
function wranglerOnce(args) {
  return new Promise((resolve) => {
    step = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env: { ...childEnv, CI: 'true' }, stdio: ['ignore', 'inherit', 'inherit'] });
    step.on('exit', (code, signal) => {
      step = null;
      resolve(code ?? (signal ? 1 : 0));
    });
    step.on('error', () => resolve(1));
  });
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

let server = null;
let stopping = false;

function stop(signal) {
  if (stopping) return;
  stopping = true;
  if (!server || server.exitCode !== null || server.signalCode !== null) {
    // stopped before the gateway started (e.g. while migrating): stop that step too
    if (step) step.once('exit', () => process.exit(0)).kill(signal);
    else process.exit(0);
    return;
  }
  say(`\nstopping the gateway (${signal})…`);
  server.kill(signal);
  // wrangler stops workerd itself; if it hangs, do not leave the terminal waiting
  setTimeout(() => server && server.exitCode === null && server.kill('SIGKILL'), 8_000).unref();
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGHUP', () => stop('SIGHUP'));

// ------------------------------------------------------------------ the admin API

async function api(method, pathname, { token, json } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(BASE + pathname, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), signal: AbortSignal.timeout(15_000) });
  const text = await r.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep null
  }
  return { status: r.status, body, text };
}

async function waitForHealth() {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (stopping || server.exitCode !== null) return false;
    try {
      const r = await fetch(`${BASE}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (r.ok && (await r.json())?.ok === true) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

/**
 * A demo key that works now: the one remembered from an earlier run when the gateway still
 * accepts it, else a new key (for the remembered tenant when it still exists, else a new tenant).
 */
async function demoKey(adminToken) {
  let saved = null;
  try {
    saved = JSON.parse(readFileSync(DEMO_FILE, 'utf8'));
  } catch {
    // first run, or a deleted .wrangler: make a new one
  }
  if (saved?.key) {
    // a cheap authenticated call: 404 means the key got through auth (the image does not exist)
    const probe = await api('GET', '/v1/images/img_imagegatedemoprobe', { token: saved.key });
    if (probe.status === 404) return { ...saved, reused: true };
  }
  let tenantId = saved?.tenant_id;
  if (tenantId && (await api('GET', `/admin/tenants/${encodeURIComponent(tenantId)}`, { token: adminToken })).status !== 200) tenantId = undefined;
  if (!tenantId) {
    const t = await api('POST', '/admin/tenants', { token: adminToken, json: { name: 'demo' } });
    if (t.status !== 201) throw new Error(`POST /admin/tenants answered ${t.status}: ${t.text.slice(0, 300)}`);
    tenantId = t.body.id;
  }
  const k = await api('POST', `/admin/tenants/${encodeURIComponent(tenantId)}/keys`, { token: adminToken, json: { name: 'demo' } });
  if (k.status !== 201) throw new Error(`POST /admin/tenants/{id}/keys answered ${k.status}: ${k.text.slice(0, 300)}`);
  const demo = { tenant_id: tenantId, key_id: k.body.id, key: k.body.key };
  mkdirSync(path.dirname(DEMO_FILE), { recursive: true });
  writeFileSync(DEMO_FILE, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return { ...demo, reused: false };
}

function banner({ adminToken, demo, originsFrom }) {
  const body = JSON.stringify({
    model: 'stabilityai/stable-diffusion-3.5-large',
    positive_prompt: 'cinematic shot of a lone astronaut walking across a red desert at dusk, volumetric light, 35mm film',
    width: 1024,
    height: 1024,
    steps: 30,
    cfg: 7.5,
    seed: 42,
  });
  say();
  say('────────────────────────────────────────────────────────────────────────');
  say(`imagegate is running on ${BASE}`);
  say(`  origins:     ${originsFrom}`);
  say(`  demo key:    tenant ${demo.tenant_id}, key ${demo.key_id}${demo.reused ? ' (reused)' : ' (new)'}`);
  say('  admin token: ADMIN_TOKEN in .dev.vars');
  say();
  say('Paste into another terminal:');
  say();
  say(`export IMAGEGATE_URL=${BASE}`);
  say(`export IMAGEGATE_KEY=${demo.key} ADMIN_TOKEN=${adminToken}`);
  say();
  say('Generate the seed image:');
  say();
  say('  curl -sS "$IMAGEGATE_URL/image/generation" \\');
  say('    -H "Authorization: Bearer $IMAGEGATE_KEY" \\');
  say(`    -H 'Content-Type: application/json' \\`);
  say(`    -d '${body}' \\`);
  say('    -D - -o astronaut.png');
  say();
  say(`API reference: ${BASE}/docs`);
  say('The scheduled handler (housekeeping) runs at the top of every minute. Ctrl-C stops the gateway.');
  say('────────────────────────────────────────────────────────────────────────');
}

// ------------------------------------------------------------------ the cron

/**
 * Runs the Worker's scheduled handler at the top of every minute, as `crons = ["* * * * *"]` does in
 * production: what a dead request left behind is released on the same schedule here as there. The
 * Worker logs what the handler did ('housekeeping'); a failed run is reported and the next one
 * still comes.
 */
function scheduleCron() {
  const tick = async () => {
    if (stopping) return;
    setTimeout(tick, CRON_PERIOD_MS - (Date.now() % CRON_PERIOD_MS)).unref();
    try {
      const r = await fetch(`${BASE}/__scheduled?cron=${encodeURIComponent(CRON)}`, { signal: AbortSignal.timeout(CRON_PERIOD_MS - 5_000) });
      await r.body?.cancel();
      if (!r.ok) process.stderr.write(`npm run dev: the scheduled handler failed (HTTP ${r.status}; see the log above)\n`);
    } catch (err) {
      if (!stopping) process.stderr.write(`npm run dev: could not run the scheduled handler: ${err.message}\n`);
    }
  };
  setTimeout(tick, CRON_PERIOD_MS - (Date.now() % CRON_PERIOD_MS)).unref();
}

// ------------------------------------------------------------------ main

const { vars, wrote } = ensureDevSecrets();
for (const name of wrote) say(`npm run dev: wrote a random ${name} to .dev.vars`);
const adminToken = vars.ADMIN_TOKEN;
// the variables the Worker gets: .dev.vars, plus what this script passes with --var below
const cliVars = {
  ...(vars.ORIGINS ? {} : { ORIGINS: LOCAL_ORIGINS }),
  ...(vars.WEBHOOK_ALLOW_LOOPBACK !== undefined ? {} : { WEBHOOK_ALLOW_LOOPBACK: 'true' }),
};
const originsFrom = vars.ORIGINS ? 'ORIGINS from .dev.vars' : 'the bundled local origin (set ORIGINS in .dev.vars to use others)';

const problems = await workerConfigProblems({ ...vars, ...cliVars });
if (problems.length > 0) {
  die(`the configuration in .dev.vars cannot serve; nothing was started:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

if (!(await portIsFree(PORT))) die(`${HOST}:${PORT} is already in use; choose another port with PORT=…`);

say('npm run dev: applying local D1 migrations…');
if ((await wranglerOnce(['d1', 'migrations', 'apply', 'DB', '--local'])) !== 0) die('applying the local D1 migrations failed (see above)');
if (stopping) process.exit(0);

// --test-scheduled: the Worker answers /__scheduled by running its scheduled handler. (Miniflare's
// /cdn-cgi/handler/scheduled reaches the [assets] router rather than the Worker, and fails.)
const devArgs = ['dev', '--ip', HOST, '--port', String(PORT), '--show-interactive-dev-session=false', '--test-scheduled'];
// .dev.vars overrides wrangler.toml's (production) vars by itself; --var only fills in what it lacks
for (const [name, value] of Object.entries(cliVars)) devArgs.push('--var', `${name}:${value}`);
server = spawn(process.execPath, [WRANGLER, ...devArgs], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'inherit', 'inherit'] });
server.on('exit', (code, signal) => {
  if (stopping) process.exit(0);
  process.stderr.write(`npm run dev: wrangler exited (${signal ?? `code ${code}`})\n`);
  process.exit(code || 1);
});

if (!(await waitForHealth())) {
  if (!stopping) {
    process.stderr.write(`npm run dev: ${BASE}/healthz did not answer within ${STARTUP_TIMEOUT_MS / 1000} s\n`);
    stop('SIGTERM');
  }
} else {
  scheduleCron();
  try {
    banner({ adminToken, demo: await demoKey(adminToken), originsFrom });
  } catch (err) {
    process.stderr.write(`npm run dev: the gateway is up, but creating the demo key failed: ${err.message}\n`);
    process.stderr.write(`  export ADMIN_TOKEN=${adminToken}\n`);
  }
}
