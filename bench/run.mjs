#!/usr/bin/env node
/**
 * npm run bench [-- options]
 *
 *   (no option)          the benchmark (load from wrk): direct, floor, Portkey's gateway, and the
 *                        gateway's miss, hit, estimate and OpenAI-route paths at 1, 10, 50
 *                        connections; a 100 ms origin variant; the `wrangler dev` figure; calls
 *                        per request; the latency model; the CPU Cloudflare would bill.
 *                        Several minutes on 2 cores; JSON to bench/results/latest.json
 *   --quick              shorter runs at 1 and 10 connections (a few minutes)
 *   --no-wrangler-dev    skip the `wrangler dev` line
 *   --no-peer            skip Portkey's gateway (else installed into bench/.peer at first use)
 *   --levels 1,10,50     connection counts
 *   --seconds N          whole seconds per run (bench), or the soak's length (default 120)
 *   --latency-model off  skip the latency model (the CPU runs never have it)
 *   --d1-ms 25 --r2-ms 15 --do-ms 10 --origin-ms 0
 *                        the latency model's delay per D1, R2, Durable Object and origin call
 *   --out FILE           where the JSON goes
 *   --soak               mixed load with a misbehaving origin, then the invariant checks;
 *                        exits 1 on any violation
 *   --storage-faults F   (soak) this fraction of the gateway's D1, R2 and Durable Object calls
 *                        throw (default 0.01; 0 turns it off)
 *   --webhook-failures F (soak) this fraction of webhook deliveries the receiver answers
 *                        with a 500 (default 0.15; 1 % more hang past the 10 s timeout)
 *
 * The bench talks to 127.0.0.1 only; its own listeners are bound there (Portkey's gateway, which
 * takes a port but no address, listens on every interface for the run). Every run is bounded in time.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BENCH } from './lib/setup.mjs';

function parseArgs(argv) {
  const a = { quick: false, soak: false, wranglerDev: true, peer: true, levels: null, seconds: null, out: null, latency: true, delays: { d1: 25, r2: 15, do: 10, origin: 0 }, storageFaults: 0.01, webhookFailures: undefined };
  const ms = (v, flag) => {
    const n = Number(v);
    if (!(Number.isFinite(n) && n >= 0 && n <= 10_000)) throw new Error(`${flag}: milliseconds 0–10000`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') a.quick = true;
    else if (arg === '--soak') a.soak = true;
    else if (arg === '--no-wrangler-dev') a.wranglerDev = false;
    else if (arg === '--no-peer') a.peer = false;
    else if (arg === '--latency-model') {
      const v = value();
      if (v !== 'off' && v !== 'on') throw new Error('--latency-model: on or off');
      a.latency = v === 'on';
    } else if (['--d1-ms', '--r2-ms', '--do-ms', '--origin-ms'].includes(arg)) a.delays[arg.slice(2, -3)] = ms(value(), arg);
    else if (arg === '--storage-faults') {
      a.storageFaults = Number(value());
      if (!(a.storageFaults >= 0 && a.storageFaults <= 0.5)) throw new Error('--storage-faults: a fraction 0–0.5');
    }
    else if (arg === '--webhook-failures') {
      a.webhookFailures = Number(value());
      if (!(a.webhookFailures >= 0 && a.webhookFailures <= 0.5)) throw new Error('--webhook-failures: a fraction 0–0.5');
    }
    else if (arg === '--levels') a.levels = value().split(',').map(Number);
    else if (arg === '--seconds') a.seconds = Number(value());
    else if (arg === '--out') a.out = value();
    else if (arg === '--help' || arg === '-h') a.help = true;
    else throw new Error(`unknown option ${arg} (try --help)`);
  }
  if (a.levels && a.levels.some((n) => !Number.isInteger(n) || n < 1 || n > 500)) throw new Error('--levels: integers 1–500');
  if (a.seconds !== null && !(a.seconds > 0 && a.seconds <= 3600)) throw new Error('--seconds: 0–3600');
  return a;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL(import.meta.url), 'utf8');
    console.log(text.slice(text.indexOf('/**') + 3, text.indexOf('*/')).replace(/^ \* ?/gm, ''));
    return 0;
  }
  const resultsDir = path.join(BENCH, 'results');
  mkdirSync(resultsDir, { recursive: true });
  if (args.soak) {
    const { runSoak } = await import('./lib/soak.mjs');
    const report = await runSoak({ seconds: args.seconds ?? 120, storageFaults: args.storageFaults, webhookFailures: args.webhookFailures, outFile: args.out ?? path.join(resultsDir, 'soak-latest.json') });
    return report.failed > 0 ? 1 : 0;
  }
  const { runBench } = await import('./lib/throughput.mjs');
  await runBench({
    quick: args.quick,
    levels: args.levels ?? (args.quick ? [1, 10] : [1, 10, 50]),
    seconds: args.seconds ?? (args.quick ? 2 : 4),
    slowLevels: args.quick ? [10] : [10, 50],
    wranglerDev: args.wranglerDev,
    peer: args.peer,
    latency: args.latency ? args.delays : 'off',
    outFile: args.out ?? path.join(resultsDir, 'latest.json'),
  });
  return 0;
}

// Ctrl-C: exit at once; the clean-ups registered with onExit run on the way out.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping`);
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${err?.stack ?? err}`);
    process.exit(2);
  },
);
