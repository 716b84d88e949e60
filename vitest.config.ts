import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/*
 * A green run is quiet. Three kinds of runtime output are expected and carry no information:
 *
 * - wrangler's "Using secrets defined in .dev.vars", once per test file: the pool reads the
 *   project's wrangler.toml the way `wrangler dev` does, .dev.vars included, and wrangler logs that
 *   at info level. Only wrangler's warnings and errors are shown here.
 * - workerd's "disconnected: WebSocket peer disconnected" when a test file's runner closes its
 *   socket: benign teardown noise that @cloudflare/vitest-pool-workers filters in later versions
 *   (cloudflare/workers-sdk#13833) but not in the 0.15 line pinned here.
 * - workerd's report of a fetch to a port where nothing listens ("connect(): Connection refused",
 *   then twice "Network connection lost" with native stacks), logged even though the caller catches
 *   the rejection. The origin tests do that on purpose (a refused origin moves to the next one).
 *
 * - vite's "Sourcemap for …/standardwebhooks/dist/index.js points to missing source files": that
 *   package (the tests' reference verifier for webhook signatures) publishes a source map whose
 *   sources it does not ship. Only that warning, for that package, is dropped.
 *
 * The pool writes each runtime log entry with one write to this process's stdout or stderr, and
 * offers no hook, so those entries are dropped there: exactly these messages, and a "Network
 * connection lost" only right after a refused connection. Everything else, and every failure
 * vitest reports, still shows.
 */
process.env.WRANGLER_LOG ??= 'warn';

const REFUSED = 'disconnected: connect(): Connection refused';
const LOST = 'Network connection lost.';
const PEER_GONE = 'disconnected: WebSocket peer disconnected';

/** Whether a runtime log entry is one of the benign ones above; `state` tracks a refused connection. */
function isBenign(text: string, state: { lostExpected: number }): boolean {
  if (/^Sourcemap for "[^"]*\/node_modules\/standardwebhooks\/[^"]*" points to missing source files\s*$/.test(text)) return true;
  // workerd's own entries only: never a line of vitest's report, whatever error it quotes
  if (!/^(?:uncaught )?exception[ ;]/.test(text)) return false;
  if (text.includes(PEER_GONE)) return true;
  if (text.includes(REFUSED)) {
    state.lostExpected = 2;
    return true;
  }
  if (state.lostExpected > 0 && text.includes(LOST)) {
    state.lostExpected--;
    return true;
  }
  return false;
}

/** The pool writes runtime entries to stdout or stderr by their level; both are filtered. */
function dropBenignRuntimeLogs(): void {
  const state = { lostExpected: 0 };
  for (const stream of [process.stdout, process.stderr] as (NodeJS.WriteStream & { imagegateQuiet?: true })[]) {
    if (stream.imagegateQuiet) continue;
    stream.imagegateQuiet = true;
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : '';
      return isBenign(text, state) ? true : write(chunk, ...rest);
    }) as typeof stream.write;
  }
}

export default defineConfig(async () => {
  dropBenignRuntimeLogs();
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations'));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_TOKEN: 'test-admin-token',
            IMAGE_URL_SECRET: 'test-image-url-secret',
            // the size of the tag-report scale test: small in `npm test`, 1,000,000 in `npm run bench:report`
            REPORT_SCALE_ROWS: process.env.REPORT_SCALE_ROWS ?? '50000',
            ORIGINS: JSON.stringify([{ name: 'local', kind: 'local', models: ['*'] }]),
          },
        },
      }),
    ],
    test: {
      include: ['test/**/*.test.ts'],
      exclude: ['test/node/**', 'node_modules/**'],
      setupFiles: ['./test/helpers/apply-migrations.ts'],
      globalSetup: ['./test/node/global-setup.ts'],
      testTimeout: 30_000,
      silent: 'passed-only',
      hookTimeout: 30_000,
    },
  };
});
