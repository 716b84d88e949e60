import { createRoute } from '@hono/zod-openapi';
import { currentSpent, periodEnd, remainingOf } from '../domain/budget-period';
import { atLeastZero, formatUsd } from '../domain/money';
import { tenantAuth } from '../middleware/tenant-auth';
import { errorResponses, jsonAnswer, securityOf } from '../openapi/describe';
import { UsageAnswer } from '../schemas/answers';
import { callerUsage, type BudgetUsage } from '../storage/usage';
import { routeGroup } from './route-group';

/** `GET /v1/usage`: the caller's key and tenant, each for its own current budget period (docs/money.md). */
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
  };
}

const usageRoute = createRoute({
  method: 'get',
  path: '/v1/usage',
  operationId: 'getUsage',
  summary: "The caller's key and tenant usage in their current budget periods",
  description: '`requests` counts generations that passed auth, rate limits and budget (cache hits included); refusals are not usage.',
  tags: ['usage'],
  ...securityOf('tenant'),
  middleware: tenantAuth(),
  responses: { 200: jsonAnswer('usage of the key and of its tenant', UsageAnswer), ...errorResponses({ auth: 'tenant' }) },
});

usageRoutes.openapi(usageRoute, async function ownUsage(c) {
  const now = c.var.deps.now();
  const usage = await callerUsage(c.env.DB, c.var.caller, now);
  return c.json({ key: usageJson(usage.key, now), tenant: usageJson(usage.tenant, now) }, 200);
});
