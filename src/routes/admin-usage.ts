import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { formatUsd } from '../domain/money';
import { tagProblem } from '../domain/tags';
import { DAY_MS } from '../domain/time';
import { ApiError } from '../errors';
import { tenantScope } from '../domain/roles';
import { declareRoute, textContent } from '../openapi/describe';
import { UsageReportAnswer } from '../schemas/answers';
import { UsageQuerySchema, type UsageQuery } from '../schemas/requests';
import { usageReport, usageTotal, type TagFilter, type UsageFilter, type UsageGroupBy, type UsageRow } from '../storage/usage';
import { routeGroup } from './route-group';

/**
 * `GET /admin/usage`: the usage ledger summed per day, key, model, tenant or tag, as JSON or CSV
 * (docs/admin.md, docs/money.md). The tenant's own `GET /v1/usage?group_by=…` answers the same report.
 */
export const adminUsageRoutes = routeGroup();

/** RFC 4180: quote a field that holds a comma, a quote or a line break. */
function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The CSV columns: the original five first, so a reader of the earlier report still finds them in place. */
export const USAGE_CSV_HEADER = 'group,requests,cache_hits,failed,cost_usd,coalesced,saved_usd';

function sumsJson(r: Omit<UsageRow, 'group'>) {
  return {
    requests: r.requests,
    cache_hits: r.cacheHits,
    failed: r.failed,
    cost_usd: formatUsd(r.costNano),
    coalesced: r.coalesced,
    saved_usd: formatUsd(r.savedNano),
  };
}

/** `tag=project:checkout` (repeatable) → filters; a malformed one is a 400 naming `tag`. */
function tagFilters(raw: string | string[] | undefined): TagFilter[] {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((text) => {
    const colon = text.indexOf(':');
    const [name, value] = colon < 0 ? [text, ''] : [text.slice(0, colon), text.slice(colon + 1)];
    const problem = colon < 0 ? `a tag filter is <name>:<value>, got '${text.slice(0, 40)}'` : tagProblem(name, value);
    if (problem) throw new ApiError('invalid_request', problem, { param: 'tag' });
    return { name, value };
  });
}

/** The report's filter from the query: `from`/`to` are UTC dates, `to` inclusive. */
export function usageFilterOf(q: Omit<UsageQuery, 'group_by' | 'format' | 'tenant_id'> & { tenant_id?: string | undefined }): UsageFilter {
  if (q.from && q.to && q.from > q.to) {
    throw new ApiError('invalid_request', `'to' (${q.to}) is before 'from' (${q.from})`, { param: 'to' });
  }
  return {
    ...(q.tenant_id !== undefined ? { tenantId: q.tenant_id } : {}),
    ...(q.key_id !== undefined ? { keyId: q.key_id } : {}),
    ...(q.from !== undefined ? { fromIso: `${q.from}T00:00:00.000Z` } : {}),
    // `to` is inclusive: everything before the next day's midnight
    ...(q.to !== undefined ? { beforeIso: new Date(Date.parse(`${q.to}T00:00:00Z`) + DAY_MS).toISOString() } : {}),
    tags: tagFilters(q.tag),
  };
}

/** `group_by` as the query schema let it through: one of the columns, or `tag:<name>`. */
export function groupByOf(text: string): UsageGroupBy {
  if (text === 'day' || text === 'key' || text === 'model' || text === 'tenant') return text;
  if (text.startsWith('tag:')) return text as `tag:${string}`;
  throw new Error(`group_by '${text}' passed the query schema`);
}

/** The report as the client asked for it: `{ rows, total }`, or CSV with a header row. */
export function usageReportAnswer(c: Context<AppEnv>, rows: UsageRow[], format: 'json' | 'csv'): Response {
  if (format === 'csv') {
    const lines = [
      USAGE_CSV_HEADER,
      ...rows.map((r) => {
        const sums = sumsJson(r);
        return [r.group, sums.requests, sums.cache_hits, sums.failed, sums.cost_usd, sums.coalesced, sums.saved_usd].map(csvField).join(',');
      }),
    ];
    return new Response(`${lines.join('\r\n')}\r\n`, {
      headers: { 'Content-Type': 'text/csv; charset=utf-8; header=present', 'Content-Disposition': 'attachment; filename="usage.csv"' },
    });
  }
  return c.json({ rows: rows.map((r) => ({ group: r.group, ...sumsJson(r) })), total: sumsJson(usageTotal(rows)) }, 200);
}

const usageRoute = declareRoute({
  method: 'get',
  path: '/admin/usage',
  id: 'usageReport',
  summary: 'The usage ledger, summed',
  description: `\`from\`/\`to\` are UTC dates, \`to\` inclusive. \`failed\` counts generations that ended without an image; \`coalesced\` those served the image of an identical request in flight; \`saved_usd\` is what the hits and merged generations would have cost at the origin. \`group_by=tag:<name>\` groups by a tag's value (generations without it form the group ""); \`tag=<name>:<value>\` (repeatable) keeps the generations that carry every one. CSV has the header row \`${USAGE_CSV_HEADER}\`. A tenant admin's report covers its own tenant only.`,
  tag: 'admin: usage',
  auth: 'admin',
  query: UsageQuerySchema,
  answers: {
    200: {
      description: 'rows per group and the total (JSON), or the same as CSV with `format=csv`',
      content: { 'application/json': { schema: UsageReportAnswer }, ...textContent('text/csv') },
    },
  },
});

adminUsageRoutes.openapi(usageRoute, async function usage(c) {
  const q = c.req.valid('query');
  // a tenant admin's report is its own tenant's, whatever it asks (asking for another's is 404 before this)
  const tenantId = tenantScope(c.var.principal) ?? q.tenant_id;
  const rows = await usageReport(c.env.DB, usageFilterOf({ ...q, tenant_id: tenantId }), groupByOf(q.group_by));
  // the CSV answer is a plain Response, which the typed answers cannot name; the document declares both
  return usageReportAnswer(c, rows, q.format) as never;
});
