import { currentSpent, periodEnd, remainingOf } from '../domain/budget-period';
import { atLeastZero, formatUsd } from '../domain/money';
import { ApiError } from '../errors';
import { declareRoute, textContent } from '../openapi/describe';
import { UsageAnswer, UsageReportAnswer } from '../schemas/answers';
import { OwnUsageQuerySchema } from '../schemas/requests';
import { callerUsage, usageReport, type BudgetUsage } from '../storage/usage';
import { groupByOf, usageFilterOf, usageReportAnswer } from './admin-usage';
import { routeGroup } from './route-group';

/**
 * `GET /v1/usage`: the caller's key and tenant, each for its own current budget period
 * (docs/money.md); with `group_by`, `tag`, `from`, `to` or `format`, the tenant's own ledger as
 * `GET /admin/usage` reports it, never another tenant's.
 */
export const usageRoutes = routeGroup();

function usageJson(u: BudgetUsage, now: number) {
  const remaining = remainingOf(u.state, now);
  const resetsAt = periodEnd(u.state.budgetPeriod, now);
  return {
    id: u.id,
    name: u.name,
    spent_usd: formatUsd(currentSpent(u.state, now)),
    reserved_usd: formatUsd(u.state.reservedNano),
    budget_usd: u.state.budgetNano === null ? null : formatUsd(u.state.budgetNano),
    remaining_usd: remaining === null ? null : formatUsd(atLeastZero(remaining)),
    period: u.state.budgetPeriod,
    period_resets_at: resetsAt === null ? null : new Date(resetsAt).toISOString(),
    requests: u.counts.requests,
    cache_hits: u.counts.cacheHits,
    coalesced: u.counts.coalesced,
    saved_usd: formatUsd(u.counts.savedNano),
  };
}

const usageRoute = declareRoute({
  method: 'get',
  path: '/v1/usage',
  id: 'getUsage',
  summary: "The caller's key and tenant usage in their current budget periods",
  description:
    '`requests` counts generations that passed auth, rate limits and budget (cache hits included); refusals are not usage. With any of `group_by`, `tag`, `from`, `to` or `format`, the answer is the tenant\'s usage report instead, as `GET /admin/usage` gives it (`group_by` defaults to `day`; `tenant` is not a grouping here).',
  tag: 'usage',
  auth: 'tenant',
  query: OwnUsageQuerySchema,
  answers: {
    200: {
      description: 'usage of the key and of its tenant; or, when a report is asked for, its rows and total (JSON) or CSV',
      content: { 'application/json': { schema: UsageAnswer.or(UsageReportAnswer) }, ...textContent('text/csv') },
    },
  },
});

usageRoutes.openapi(usageRoute, async function ownUsage(c) {
  const q = c.req.valid('query');
  if (q.group_by !== undefined || q.tag !== undefined || q.from !== undefined || q.to !== undefined || q.format !== undefined) {
    if (q.group_by === 'tenant') throw new ApiError('invalid_request', "a tenant's own report cannot group by tenant", { param: 'group_by' });
    const rows = await usageReport(c.env.DB, usageFilterOf({ ...q, tenant_id: c.var.caller.tenant.id }), groupByOf(q.group_by ?? 'day'));
    return usageReportAnswer(c, rows, q.format ?? 'json') as never;
  }
  const now = c.var.deps.now();
  const usage = await callerUsage(c.env.DB, c.var.caller, now);
  return c.json({ key: usageJson(usage.key, now), tenant: usageJson(usage.tenant, now) }, 200);
});
