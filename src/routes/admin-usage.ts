import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env';
import { zodToApiError } from '../domain/generation-request';
import { formatUsd } from '../domain/money';
import { DAY_MS } from '../domain/time';
import { ApiError } from '../errors';
import { usageReport, type UsageRow } from '../storage/usage';

/** `GET /admin/usage`: the usage ledger summed per day, key, model or tenant, as JSON or CSV (CONTRACT §8). */
export const adminUsageRoutes = new Hono<AppEnv>();

/** A calendar date `YYYY-MM-DD` (UTC) that exists: 2026-02-30 is refused rather than rolled over. */
const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date such as 2026-11-26')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'not a calendar date');

export const QuerySchema = z.strictObject({
  tenant_id: z.string().min(1).max(200).optional(),
  key_id: z.string().min(1).max(200).optional(),
  from: IsoDate.optional(),
  to: IsoDate.optional(),
  group_by: z.enum(['day', 'key', 'model', 'tenant']).default('day'),
  format: z.enum(['json', 'csv']).default('json'),
});

/** RFC 4180: quote a field that holds a comma, a quote or a line break. */
function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function totals(rows: UsageRow[]) {
  return rows.reduce(
    (t, r) => ({
      requests: t.requests + r.requests,
      cacheHits: t.cacheHits + r.cacheHits,
      failed: t.failed + r.failed,
      costNano: t.costNano + r.costNano,
    }),
    { requests: 0, cacheHits: 0, failed: 0, costNano: 0n },
  );
}

adminUsageRoutes.get('/admin/usage', async function usage(c) {
  const parsed = QuerySchema.safeParse(c.req.query());
  if (!parsed.success) throw zodToApiError(parsed.error);
  const q = parsed.data;
  if (q.from && q.to && q.from > q.to) {
    throw new ApiError('invalid_request', `'to' (${q.to}) is before 'from' (${q.from})`, { param: 'to' });
  }
  const rows = await usageReport(
    c.env.DB,
    {
      ...(q.tenant_id !== undefined ? { tenantId: q.tenant_id } : {}),
      ...(q.key_id !== undefined ? { keyId: q.key_id } : {}),
      ...(q.from !== undefined ? { fromIso: `${q.from}T00:00:00.000Z` } : {}),
      // `to` is inclusive: everything before the next day's midnight
      ...(q.to !== undefined ? { beforeIso: new Date(Date.parse(`${q.to}T00:00:00Z`) + DAY_MS).toISOString() } : {}),
    },
    q.group_by,
  );
  const total = totals(rows);
  if (q.format === 'csv') {
    const lines = [
      'group,requests,cache_hits,failed,cost_usd',
      ...rows.map((r) => [r.group, r.requests, r.cacheHits, r.failed, formatUsd(r.costNano)].map(csvField).join(',')),
    ];
    return c.body(`${lines.join('\r\n')}\r\n`, 200, {
      'Content-Type': 'text/csv; charset=utf-8; header=present',
      'Content-Disposition': 'attachment; filename="usage.csv"',
    });
  }
  return c.json({
    rows: rows.map((r) => ({ group: r.group, requests: r.requests, cache_hits: r.cacheHits, failed: r.failed, cost_usd: formatUsd(r.costNano) })),
    total: { requests: total.requests, cache_hits: total.cacheHits, failed: total.failed, cost_usd: formatUsd(total.costNano) },
  });
});
