#!/usr/bin/env node
// Copies the docs viewer (Swagger UI, from the swagger-ui-dist package) into the Worker's static
// assets directory, so GET /docs works with no internet (docs/generation.md). Run by `npm install`
// (prepare) and before dev, test, build and deploy; the copies are not committed.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ASSETS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');
// the same list as VIEWER_FILES in src/routes/docs.ts (test/openapi/docs-page.test.ts checks each is served)
const FILES = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'favicon-16x16.png', 'LICENSE', 'NOTICE'];

export function copyDocsAssets() {
  const require = createRequire(import.meta.url);
  const source = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const target = path.join(ASSETS_DIR, 'docs', 'swagger-ui');
  mkdirSync(target, { recursive: true });
  for (const file of FILES) {
    copyFileSync(path.join(source, file), path.join(target, file));
  }
  return target;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const target = copyDocsAssets();
  console.log(`docs viewer assets in ${path.relative(process.cwd(), target) || target}`);
}
