#!/usr/bin/env node
/**
 * npm run bench [-- options]
 *
 *   (no option)          the benchmark: direct, floor, miss, hit, estimate at 1, 10, 50 connections,
 *                        a 100 ms origin variant, the `wrangler dev` figure, calls per request;
 *                        about 2.5 minutes on 2 cores; JSON to bench/results/latest.json
 *   --quick              shorter runs at 1 and 10 connections (about a minute)
 *   --no-wrangler-dev    skip the `wrangler dev` line
 *   --levels 1,10,50     connection counts
 *   --seconds N          seconds per run (bench), or the soak's length (default 120)
 *   --out FILE           where the JSON goes
 *   --soak               mixed load with a misbehaving origin, then the invariant checks;
 *                        exits 1 on any violation
 *
 * Everything listens on and talks to 127.0.0.1 only; every run is bounded in count and time.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BENCH } from './lib/setup.mjs';

function parseArgs(argv) {
  const a = { quick: false, soak: false, wranglerDev: true, levels: null, seconds: null, out: null };
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
    const report = await runSoak({ seconds: args.seconds ?? 120, outFile: args.out ?? path.join(resultsDir, 'soak-latest.json') });
    return report.failed > 0 ? 1 : 0;
  }
  const { runBench } = await import('./lib/throughput.mjs');
  await runBench({
    quick: args.quick,
    levels: args.levels ?? (args.quick ? [1, 10] : [1, 10, 50]),
    seconds: args.seconds ?? (args.quick ? 2 : 4),
    maxRequests: args.quick ? 5_000 : 20_000,
    slowLevels: args.quick ? [10] : [10, 50],
    wranglerDev: args.wranglerDev,
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
