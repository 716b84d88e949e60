// Checks the layering the README's "Design" section promises: a file under src/ imports only from
// its own layer or the ones below it (HTTP edge → services → storage / origins / durable objects →
// domain), and no import cycle exists. Run by `npm test`; prints what is wrong and exits 1.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const SRC = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'src');

/** The layer of a file under src/: a higher number may import a lower or equal one. */
function layer(file) {
  const rel = path.relative(SRC, file).split(path.sep).join('/');
  const [top] = rel.split('/');
  if (['routes', 'middleware', 'openapi', 'schemas', 'console'].includes(top) || ['app.ts', 'index.ts', 'errors.ts'].includes(rel)) return 4;
  if (top === 'services') return 3;
  if (rel === 'env.ts') return 2.5;
  if (['storage', 'origins', 'durable-objects'].includes(top)) return 2;
  if (top === 'domain') return 1;
  if (rel === 'log.ts') return 0;
  return null;
}

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]);
  return specs.flatMap((spec) => {
    const base = path.resolve(path.dirname(file), spec);
    const found = [`${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')].find((candidate) => existsSync(candidate));
    return found ? [found] : [];
  });
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const problems = [];
for (const [file, deps] of graph) {
  for (const dep of deps) {
    const from = layer(file);
    const to = layer(dep);
    if (from !== null && to !== null && to > from) problems.push(`${path.relative(SRC, file)} imports ${path.relative(SRC, dep)}, a higher layer`);
  }
}

const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, 'open');
  stack.push(file);
  for (const dep of graph.get(file) ?? []) {
    if (state.get(dep) === 'open') {
      const cycle = stack.slice(stack.indexOf(dep)).concat(dep).map((f) => path.relative(SRC, f));
      problems.push(`import cycle: ${cycle.join(' → ')}`);
    } else if (!state.has(dep)) {
      visit(dep);
    }
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of files) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`layers: ${files.length} files under src/, no upward import, no cycle`);
