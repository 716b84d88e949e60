/**
 * The `wrangler dev` figure, on its own line: the same miss run against `wrangler dev` (its
 * development layer sits between client and Worker), so users can compare it with the figures
 * measured under Miniflare. Short and bounded; wrangler gets its own free ports and state dir.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../scripts/lib/free-port.mjs';
import { load } from './load.mjs';
import { ADMIN_TOKEN, QUIET_WRANGLER, ROOT, client, genBody, onExit } from './setup.mjs';

const WRANGLER_BIN = path.join(ROOT, 'node_modules', '.bin', 'wrangler');


const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs a short miss load against `wrangler dev`; resolves with the load result, or { error }. */
export async function wranglerDevMiss({ dir, origins, connections, seconds, runId }) {
  const state = path.join(dir, 'wrangler-dev-state');
  mkdirSync(state, { recursive: true });
  const envFile = path.join(dir, 'wrangler-dev.env');
  // --env-file makes wrangler ignore the project's .dev.vars (which may hold a user's own values);
  // IMAGE_URL_SECRET too, or /healthz (the readiness check below) answers 503 for unsigned links
  writeFileSync(envFile, `ADMIN_TOKEN=${ADMIN_TOKEN}\nIMAGE_URL_SECRET=bench-image-url-secret-0123456789abcdef\nORIGINS='${JSON.stringify(origins)}'\n`);
  const env = { ...process.env, ...QUIET_WRANGLER, CI: '1', NO_COLOR: '1' };
  const migrate = spawnSync(WRANGLER_BIN, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (migrate.status !== 0) return { error: `d1 migrations apply failed: ${(migrate.stderr || migrate.stdout).slice(-400)}` };

  const [port, inspector] = [await freePort(), await freePort()];
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--persist-to', state];
  args.push('--env-file', envFile, '--show-interactive-dev-session=false', '--log-level', 'warn');
  // its own process group, so stopping it also stops the workerd it starts
  const child = spawn(WRANGLER_BIN, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const forget = onExit(() => stop());
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  try {
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 40_000;
    let lastAnswer = null;
    for (;;) {
      if (child.exitCode !== null) return { error: `wrangler dev exited: ${output.slice(-400)}` };
      if (Date.now() > deadline) return { error: `wrangler dev was not ready within 40 s: ${lastAnswer ?? 'no answer'} from /healthz` };
      const answer = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        async (r) => ({ ok: r.ok, text: `${r.status} ${(await r.text()).slice(0, 300)}` }),
        () => null,
      );
      if (answer?.ok) break;
      lastAnswer = answer?.text ?? lastAnswer;
      await sleep(300);
    }
    const gw = client(base);
    const tenant = await gw.tenant({ name: 'bench-wrangler-dev', budget_usd: '1000000', budget_period: 'month' });
    const key = await gw.key(tenant.id, { name: 'bench', budget_usd: '1000000', budget_period: 'month' });
    const result = await load({
      url: `${base}/image/generation`,
      headers: { authorization: `Bearer ${key.key}` },
      template: JSON.stringify(genBody(`bench wrangler-dev ${runId}`, '__SEED__')).replace('"__SEED__"', '__SEED__'),
      connections,
      seconds,
    });
    return { ...result, connections };
  } catch (err) {
    return { error: String(err?.message ?? err) };
  } finally {
    forget();
    stop();
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null && child.signalCode === null) {
      await Promise.race([exited, sleep(5_000)]);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
