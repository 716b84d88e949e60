import { createRoute, z } from '@hono/zod-openapi';
import type { ModelSpec } from '../domain/models';
import { formatUsd, parseUsd } from '../domain/money';
import { ApiError } from '../errors';
import { jsonBody as readJsonBody } from '../middleware/json-body';
import { errorResponses, jsonAnswer, jsonBody, securityOf } from '../openapi/describe';
import { ModelAnswer, ModelListAnswer } from '../schemas/answers';
import { ModelPutSchema } from '../schemas/requests';
import { commitAudited } from '../storage/audit';
import { modelFromResult, upsertModelStatement } from '../storage/model-prices';
import { auditOf } from './admin-audit';
import { forgetModelSpec, getModelSpec, listModelSpecs } from '../storage/models';
import { routeGroup } from './route-group';

/**
 * Price rows and request limits per model (docs/money.md, docs/admin.md). A new model is data: PUT
 * its row and validation and pricing follow it.
 */
export const adminModelRoutes = routeGroup();

const models = { tags: ['admin: models'], ...securityOf('admin') };
/**
 * `{model{.+}}`: Hono's pattern for a model id that may hold a raw `/`; the document shows `{model}`.
 * The handler reads the raw path itself (rawModelPath), so `%2F` and `/` both work.
 */
const MODEL_PATH = '/admin/models/{model{.+}}';
const modelParams = z.object({
  model: z.string().openapi({ description: 'the model id, URL-encoded (`stabilityai%2Fstable-diffusion-3.5-large`); a raw `/` also works' }),
});

export function modelJson(spec: ModelSpec) {
  return {
    model: spec.model,
    price_per_megapixel_usd: formatUsd(spec.pricePerMegapixel),
    included_steps: spec.includedSteps,
    price_per_extra_step_usd: formatUsd(spec.pricePerExtraStep),
    width: { min: spec.width.min, max: spec.width.max, multiple_of: spec.width.multipleOf },
    height: { min: spec.height.min, max: spec.height.max, multiple_of: spec.height.multipleOf },
    steps: { min: spec.steps.min, max: spec.steps.max },
    cfg: { min: spec.cfg.min, max: spec.cfg.max },
  };
}

/** The model id from the path: URL-encoded (`a%2Fb`) or with a raw slash (`a/b`). */
function modelParam(raw: string): string {
  let model: string;
  try {
    model = decodeURIComponent(raw);
  } catch {
    throw new ApiError('invalid_request', 'the model id in the path is not valid percent-encoding', { param: 'model' });
  }
  if (model.length < 1 || model.length > 200 || /[\u0000-\u001f\u007f]/.test(model)) {
    throw new ApiError('invalid_request', 'a model id is 1 to 200 printable characters', { param: 'model' });
  }
  return model;
}

/** The raw (still encoded) rest of the path after /admin/models/, so %2F and / both work. */
function rawModelPath(url: string): string {
  return new URL(url).pathname.slice('/admin/models/'.length);
}

const listModelsRoute = createRoute({
  method: 'get',
  path: '/admin/models',
  operationId: 'listModels',
  summary: 'List models and their prices',
  ...models,
  responses: { 200: jsonAnswer('every model', ModelListAnswer), ...errorResponses({ auth: 'admin' }) },
});

adminModelRoutes.openapi(listModelsRoute, async function listModels(c) {
  const specs = await listModelSpecs(c.env.DB);
  return c.json({ data: specs.map(modelJson) }, 200);
});

const getModelRoute = createRoute({
  method: 'get',
  path: MODEL_PATH,
  operationId: 'getModel',
  summary: "Read a model's price row and limits",
  ...models,
  request: { params: modelParams },
  responses: { 200: jsonAnswer('the model', ModelAnswer), ...errorResponses({ auth: 'admin', errors: ['not_found', 'invalid_request'] }) },
});

adminModelRoutes.openapi(getModelRoute, async function readModel(c) {
  const model = modelParam(rawModelPath(c.req.url));
  // read through to D1: an admin must see the row as stored, not an isolate's cached copy
  forgetModelSpec(model);
  const spec = await getModelSpec(c.env.DB, model, c.var.deps.now());
  if (!spec) throw new ApiError('not_found', `no model '${model}'`);
  return c.json(modelJson(spec), 200);
});

const putModelRoute = createRoute({
  method: 'put',
  path: MODEL_PATH,
  operationId: 'putModel',
  summary: "Create or replace a model's price row and limits",
  description:
    'cost = ceil(width × height × price_per_megapixel / 10^6 + max(0, steps − included_steps) × price_per_extra_step), in nano-USD. Validation and pricing of new requests follow the row.',
  ...models,
  middleware: readJsonBody(),
  request: { params: modelParams, body: jsonBody(ModelPutSchema) },
  responses: {
    200: jsonAnswer('the row, replaced', ModelAnswer),
    201: jsonAnswer('the row, created', ModelAnswer),
    ...errorResponses({ auth: 'admin', body: true }),
  },
});

adminModelRoutes.openapi(putModelRoute, async function putModel(c) {
  const model = modelParam(rawModelPath(c.req.url));
  const body = c.req.valid('json');
  if (body.model !== undefined && body.model !== model) {
    throw new ApiError('invalid_request', `'model' must match the path ('${model}') or be left out`, { param: 'model' });
  }
  const spec: ModelSpec = {
    model,
    pricePerMegapixel: parseUsd(body.price_per_megapixel_usd) ?? 0n,
    includedSteps: body.included_steps,
    pricePerExtraStep: parseUsd(body.price_per_extra_step_usd) ?? 0n,
    width: { min: body.width.min, max: body.width.max, multipleOf: body.width.multiple_of },
    height: { min: body.height.min, max: body.height.max, multipleOf: body.height.multiple_of },
    steps: body.steps,
    cfg: body.cfg,
  };
  // the row as stored, not an isolate's cached copy, is what the audit entry's `before` shows
  forgetModelSpec(model);
  const existing = await getModelSpec(c.env.DB, model, c.var.deps.now());
  const change = {
    action: 'model.price_set',
    target: { type: 'model', id: model },
    tenantId: null,
    before: existing ? modelJson(existing) : null,
    after: modelJson(spec),
  } as const;
  const { results } = await commitAudited(c.env.DB, upsertModelStatement(c.env.DB, spec, new Date(c.var.deps.now()).toISOString()), auditOf(c, change));
  const saved = modelFromResult(results[0]);
  if (!saved) throw new Error('upserting a model returned no row');
  forgetModelSpec(model);
  return c.json(modelJson(saved), existing ? 200 : 201);
});
