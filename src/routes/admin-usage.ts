import { createRoute } from '@hono/zod-openapi';
import { formatUsd } from '../domain/money';
import { DAY_MS } from '../domain/time';
import { ApiError } from '../errors';
import { tenantScope } from '../domain/roles';
import { errorResponses, securityOf, textContent } from '../openapi/describe';
import { UsageReportAnswer } from '../schemas/answers';
import { UsageQuerySchema } from '../schemas/requests';
import { usageReport, type UsageRow } from '../storage/usage';
import { routeGroup } from './route-group';

/** `GET /admin/usage`: the usage ledger summed per day, key, model or tenant, as JSON or CSV (docs/admin.md). */
export const adminUsageRoutes = routeGroup();


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

const usageRoute = createRoute({
  method: 'get',
  path: '/admin/usage',
  operationId: 'usageReport',
  summary: 'The usage ledger, summed',
  description:
    "`from`/`to` are UTC dates, `to` inclusive. `failed` counts generations that ended without an image. CSV has the header row `group,requests,cache_hits,failed,cost_usd`. A tenant admin's report covers its own tenant only.",
  tags: ['admin: usage'],
  ...securityOf('admin'),
  request: { query: UsageQuerySchema },
  responses: {
    200: {
      description: 'rows per group and the total (JSON), or the same as CSV with `format=csv`',
      content: { 'application/json': { schema: UsageReportAnswer }, ...textContent('text/csv') },
    },
    ...errorResponses({ auth: 'admin', query: true, errors: ['not_found'] }),
  },
});

adminUsageRoutes.openapi(usageRoute, async function usage(c) {
  const q = c.req.valid('query');
  if (q.from && q.to && q.from > q.to) {
    throw new ApiError('invalid_request', `'to' (${q.to}) is before 'from' (${q.from})`, { param: 'to' });
  }
  // a tenant admin's report is its own tenant's, whatever it asks (asking for another's is 404 before this)
  const tenantId = tenantScope(c.var.principal) ?? q.tenant_id;
  const rows = await usageReport(
    c.env.DB,
    {
      ...(tenantId !== undefined ? { tenantId } : {}),
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
    return new Response(`${lines.join('\r\n')}\r\n`, {
      headers: { 'Content-Type': 'text/csv; charset=utf-8; header=present', 'Content-Disposition': 'attachment; filename="usage.csv"' },
    });
  }
  return c.json({
    rows: rows.map((r) => ({ group: r.group, requests: r.requests, cache_hits: r.cacheHits, failed: r.failed, cost_usd: formatUsd(r.costNano) })),
    total: { requests: total.requests, cache_hits: total.cacheHits, failed: total.failed, cost_usd: formatUsd(total.costNano) },
  }, 200);
});
