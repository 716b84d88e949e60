import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { remainingOf, smallerRemaining } from '../domain/budget-period';
import { fromQubridBody, QubridBodySchema, requestedModel, zodToApiError } from '../domain/generation-request';
import { formatUsd } from '../domain/money';
import { extraSteps, priceOf } from '../domain/pricing';
import { readJsonObject } from '../middleware/json-body';
import { tenantAuth } from '../middleware/tenant-auth';
import { cacheDirectives } from './generation-response';
import { callerUsage } from '../storage/usage';
import { modelFor } from './generation-response';

/**
 * `POST /v1/estimate`: what `POST /image/generation` with this body would cost, checked exactly as
 * that route checks it, without reserving or charging anything (CONTRACT §3).
 */
export const estimateRoutes = new Hono<AppEnv>();

const PIXELS_PER_MEGAPIXEL = 1_000_000;

estimateRoutes.post('/v1/estimate', tenantAuth(), async function estimate(c) {
  const parsed = QubridBodySchema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw zodToApiError(parsed.error);
  const now = c.var.deps.now();
  const model = requestedModel(parsed.data);
  const spec = await modelFor(c, model);
  const request = fromQubridBody(parsed.data, spec);
  const cost = priceOf(spec, request);
  const usage = await callerUsage(c.env.DB, c.var.caller, now);
  const remaining = smallerRemaining(remainingOf(usage.key.state, now), remainingOf(usage.tenant.state, now));
  const directives = cacheDirectives(c.req.header('cache-control'));
  return c.json({
    cost_usd: formatUsd(cost),
    // width × height / 10^6 has at most 6 decimals, which a double prints exactly
    megapixels: (request.width * request.height) / PIXELS_PER_MEGAPIXEL,
    extra_steps: extraSteps(spec, request.steps),
    // looked up in the cache (and then possibly free): an explicit seed, and no Cache-Control against it
    cacheable: request.seed !== null && !directives.noCache && !directives.noStore,
    would_fit_budget: remaining === null || cost <= remaining,
  });
});
