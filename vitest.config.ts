import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations'));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_TOKEN: 'test-admin-token',
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
