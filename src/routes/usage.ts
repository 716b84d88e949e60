import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { currentSpent, periodEnd, remainingOf } from '../domain/budget-period';
import { atLeastZero, formatUsd } from '../domain/money';
import { tenantAuth } from '../middleware/tenant-auth';
import { callerUsage, type BudgetUsage } from '../storage/usage';

/** `GET /v1/usage`: the caller's key and tenant, each for its own current budget period (CONTRACT §3). */
export const usageRoutes = new Hono<AppEnv>();

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

usageRoutes.get('/v1/usage', tenantAuth(), async function ownUsage(c) {
  const now = c.var.deps.now();
  const usage = await callerUsage(c.env.DB, c.var.caller, now);
  return c.json({ key: usageJson(usage.key, now), tenant: usageJson(usage.tenant, now) });
});
