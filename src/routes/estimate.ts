import { fromQubridBody, requestedModel } from '../domain/generation-request';
import { formatUsd } from '../domain/money';
import { extraSteps, priceOf } from '../domain/pricing';
import { declareRoute, jsonAnswer, jsonBody } from '../openapi/describe';
import { EstimateAnswer } from '../schemas/answers';
import { EstimateHeaders, QubridBody } from '../schemas/requests';
import { budgetRemainingNow } from '../storage/budget-snapshot';
import { checkedOrThrow } from './failures';
import { cacheDirectives, maxCostOf, modelFor, tagsOf } from './generation-response';
import { routeGroup } from './route-group';

/**
 * `POST /v1/estimate`: what `POST /image/generation` with this body would cost, checked exactly as
 * that route checks it, without reserving or charging anything (docs/money.md).
 */
export const estimateRoutes = routeGroup();

const PIXELS_PER_MEGAPIXEL = 1_000_000;

const estimateRoute = declareRoute({
  method: 'post',
  path: '/v1/estimate',
  id: 'estimateCost',
  summary: 'What a generation would cost',
  description:
    'Same body and checks as `POST /image/generation` (`Imagegate-Tags` included); charges nothing, reserves nothing. With `Imagegate-Max-Cost-USD`, `within_max_cost` says whether the generation would pass that ceiling.',
  tag: 'usage',
  auth: 'tenant',
  headers: EstimateHeaders,
  body: jsonBody(QubridBody),
  answers: { 200: jsonAnswer('the price and whether it would fit the budget', EstimateAnswer) },
});

estimateRoutes.openapi(estimateRoute, async function estimate(c) {
  const body = c.req.valid('json');
  const now = c.var.deps.now();
  const maxCost = maxCostOf(c);
  tagsOf(c);
  const spec = await modelFor(c, requestedModel(body));
  const request = checkedOrThrow(fromQubridBody(body, spec));
  const cost = priceOf(spec, request);
  // the two budget rows only: the period's request counts that /v1/usage adds would scan the ledger
  const remaining = await budgetRemainingNow(c.env.DB, c.var.caller, now);
  const directives = cacheDirectives(c.req.header('cache-control'));
  return c.json({
    cost_usd: formatUsd(cost),
    // width × height / 10^6 has at most 6 decimals, which a double prints exactly
    megapixels: (request.width * request.height) / PIXELS_PER_MEGAPIXEL,
    extra_steps: extraSteps(spec, request.steps),
    // looked up in the cache (and then possibly free): an explicit seed, and no Cache-Control against it
    cacheable: request.seed !== null && !directives.noCache && !directives.noStore,
    would_fit_budget: remaining === null || cost <= remaining,
    within_max_cost: maxCost === null ? null : cost <= maxCost,
  }, 200);
});
