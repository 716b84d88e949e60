/**
 * The peer row: Portkey's open-source gateway (npm `@portkey-ai/gateway`), a forwarding AI gateway
 * that does none of the budget, cache or ledger work, measured in the same run against the same
 * loopback origin. It is installed at bench time into bench/.peer (git-ignored), never into the
 * project's package.json, and run as its own Node process.
 *
 * Portkey listens on every interface (its CLI takes a port, not an address); the bench only ever
 * talks to it on 127.0.0.1, and it lives as long as the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../scripts/lib/free-port.mjs';
import { BENCH, onExit } from './setup.mjs';

export const PORTKEY_VERSION = '1.15.2';
const PEER_DIR = path.join(BENCH, '.peer');
const PKG_DIR = path.join(PEER_DIR, 'node_modules', '@portkey-ai', 'gateway');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function installedVersion() {
  try {
    return JSON.parse(readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** Installs the pinned Portkey gateway into bench/.peer when it is not there yet; returns its entry. */
export function ensurePortkey() {
  if (installedVersion() !== PORTKEY_VERSION) {
    console.error(`bench: installing @portkey-ai/gateway@${PORTKEY_VERSION} into bench/.peer (not into package.json)…`);
    const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', PEER_DIR, `@portkey-ai/gateway@${PORTKEY_VERSION}`], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (r.status !== 0 || installedVersion() !== PORTKEY_VERSION) {
      throw new Error(`npm could not install @portkey-ai/gateway@${PORTKEY_VERSION}: ${(r.stderr ?? r.error?.message ?? '').trim().split('\n').slice(-3).join(' ')}`);
    }
  }
  const bin = JSON.parse(readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8')).bin;
  const entry = path.join(PKG_DIR, typeof bin === 'string' ? bin : Object.values(bin)[0]);
  if (!existsSync(entry)) throw new Error(`@portkey-ai/gateway has no entry at ${entry}`);
  return entry;
}

/**
 * Starts Portkey on a free port; resolves with its URL, the headers that make it forward to
 * `originV1` (an OpenAI-compatible base URL ending in /v1), its pid and stop().
 */
export async function startPortkey(originV1) {
  const entry = ensurePortkey();
  const port = await freePort();
  const child = spawn(process.execPath, [entry, `--port=${port}`, '--headless'], {
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-2000)));
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  const forget = onExit(stop);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return {
        url,
        pid: child.pid,
        version: PORTKEY_VERSION,
        headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': originV1, authorization: 'Bearer sk-bench-not-a-key' },
        stop: () => {
          forget();
          stop();
        },
      };
    } catch {
      await sleep(200);
    }
  }
  forget();
  stop();
  throw new Error(`Portkey's gateway did not start on port ${port}: ${stderr.trim().slice(-400) || 'no output'}`);
}
