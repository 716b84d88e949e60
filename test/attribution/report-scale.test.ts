import { env } from 'cloudflare:test';
import { afterAll, describe, expect, it } from 'vitest';
import { usageReport } from '../../src/storage/usage';
import { unique } from '../helpers/api';

/**
 * docs/money.md and the README's "Splitting the bill": a month of a busy tenant is a million ledger
 * rows, and a report by tag must not read a JSON column per row. The rows are built in D1 itself
 * (INSERT … SELECT from a recursive CTE, in batches), each with two tags. `npm test` builds 50,000
 * rows and checks the sums; `npm run bench:report` builds 1,000,000 and prints the times, which are
 * not asserted: speed belongs in the bench.
 */

/** A multiple of 100,000 or a divisor of it, so the sums below come out whole. */
const ROWS = Number(env.REPORT_SCALE_ROWS);
const BATCH = Math.min(100_000, ROWS);
const PROJECTS = 10;
const tenant = unique('ten_scale');

async function build(): Promise<void> {
  for (let start = 0; start < ROWS; start += BATCH) {
    // one generation per n; a day of the month and a project from n, a cost of 1,000 + n % 7 nano-USD
    const series = `WITH RECURSIVE s(n) AS (SELECT CAST(?1 AS INTEGER) UNION ALL SELECT n + 1 FROM s WHERE n < ?2)`;
    const time = `'2026-11-' || printf('%02d', 1 + n % 30) || 'T12:00:00.000Z'`;
    await env.DB.batch([
      env.DB.prepare(
        `${series} INSERT INTO usage_ledger (generation_id, request_id, tenant_id, key_id, model, width, height, steps, cost_nano, cache, origin,
           status, latency_ms, created_at, price_version, list_cost_nano)
         SELECT 'gen_' || n, 'gen_' || n, ?3, 'key_scale', 'm', 256, 256, 30, CASE WHEN n % 5 = 0 THEN 0 ELSE 1000 + n % 7 END,
           CASE WHEN n % 5 = 0 THEN 'hit' ELSE 'miss' END, 'o', 'ok', 10, ${time}, 1, 1000 + n % 7 FROM s`,
      ).bind(start, start + BATCH - 1, tenant),
      env.DB.prepare(
        `${series} INSERT INTO ledger_tags (generation_id, name, value, tenant_id, created_at)
         SELECT 'gen_' || n, 'project', 'p' || (n % ${PROJECTS}), ?3, ${time} FROM s
         UNION ALL SELECT 'gen_' || n, 'feature', 'f' || (n % 3), ?3, ${time} FROM s WHERE n % 2 = 0`,
      ).bind(start, start + BATCH - 1, tenant),
    ]);
  }
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  console.log(`${label}: ${Math.round(performance.now() - started)} ms`);
  return result;
}

describe(`a report over ${ROWS.toLocaleString('en')} ledger rows`, () => {
  afterAll(async () => {
    await env.DB.batch([
      env.DB.prepare('DELETE FROM usage_ledger WHERE tenant_id = ?').bind(tenant),
      env.DB.prepare('DELETE FROM ledger_tags WHERE tenant_id = ?').bind(tenant),
    ]);
  }, 600_000);

  it('groups by a tag and filters on tags, with the sums the rows were built with', { timeout: 600_000 }, async () => {
    await timed(`building ${ROWS} ledger rows and ${ROWS * 1.5} tag rows`, build);
    const byProject = await timed('group_by=tag:project over the month', () =>
      usageReport(env.DB, { tenantId: tenant, fromIso: '2026-11-01T00:00:00.000Z', beforeIso: '2026-12-01T00:00:00.000Z' }, 'tag:project'),
    );
    expect(byProject).toHaveLength(PROJECTS);
    await timed('group_by=day over the month, no tags (for comparison)', () => usageReport(env.DB, { tenantId: tenant }, 'day'));
    expect(byProject.reduce((s, r) => s + r.requests, 0)).toBe(ROWS);
    expect(byProject.reduce((s, r) => s + r.cacheHits, 0)).toBe(ROWS / 5);
    const filtered = await timed('tag=project:p3 & tag=feature:f1, group_by=day', () =>
      usageReport(env.DB, { tenantId: tenant, tags: [{ name: 'project', value: 'p3' }, { name: 'feature', value: 'f1' }] }, 'day'),
    );
    // n ≡ 3 (mod 10), n even and n ≡ 1 (mod 3) cannot all hold (n ≡ 3 mod 10 is odd): the filter must find nothing
    expect(filtered).toEqual([]);
    const byFeature = await timed('tag=project:p4, group_by=tag:feature', () =>
      usageReport(env.DB, { tenantId: tenant, tags: [{ name: 'project', value: 'p4' }] }, 'tag:feature'),
    );
    // n ≡ 4 (mod 10) is even, so every one carries a feature: f0, f1, f2 a third each
    expect(byFeature.map((r) => r.group)).toEqual(['f0', 'f1', 'f2']);
    expect(byFeature.reduce((s, r) => s + r.requests, 0)).toBe(ROWS / PROJECTS);
  });
});
