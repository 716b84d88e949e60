import { z } from '@hono/zod-openapi';
import type { ModelSpec, PriceVersion } from '../domain/models';
import { formatUsd, parseUsd } from '../domain/money';
import { ApiError } from '../errors';
import { declareRoute, jsonAnswer, jsonBody } from '../openapi/describe';
import { ModelAnswer, ModelListAnswer, PriceVersionsAnswer } from '../schemas/answers';
import { ModelPutSchema } from '../schemas/requests';
import { commitAudited } from '../storage/audit';
import { modelExists, saveModelStatements, savedVersion, type ModelPut } from '../storage/model-prices';
import { auditOf } from './admin-audit';
import { forgetModelSpec, getModelSpec, listModelSpecs, listPriceVersions } from '../storage/models';
import { routeGroup } from './route-group';

/**
 * Price rows and request limits per model (docs/money.md, docs/admin.md). A new model is data: PUT
 * its row and validation and pricing follow it.
 */
export const adminModelRoutes = routeGroup();

const models = { tag: 'admin: models', auth: 'admin' } as const;
/**
 * `{model{…}}`: Hono's pattern for a model id that may hold a raw `/`; the document shows `{model}`.
 * The handler reads the raw path itself (rawModelPath), so `%2F` and `/` both work. A path ending in
 * `/prices` is the price list's (Hono would otherwise hand it to whichever pattern it tries first),
 * so a model id that itself ends in `/prices` is named with its `/` encoded.
 */
const MODEL_PATH = '/admin/models/{model{.+(?<!/prices)}}';
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

const listModelsRoute = declareRoute({
  method: 'get',
  path: '/admin/models',
  id: 'listModels',
  summary: 'List models and their prices',
  ...models,
  answers: { 200: jsonAnswer('every model', ModelListAnswer) },
});

adminModelRoutes.openapi(listModelsRoute, async function listModels(c) {
  const specs = await listModelSpecs(c.env.DB, c.var.deps.now());
  return c.json({ data: specs.map(modelJson) }, 200);
});

export function priceVersionJson(v: PriceVersion) {
  return {
    version: v.version,
    effective_at: v.effectiveAt,
    price_per_megapixel_usd: formatUsd(v.pricePerMegapixel),
    included_steps: v.includedSteps,
    price_per_extra_step_usd: formatUsd(v.pricePerExtraStep),
  };
}

/** `GET /admin/models/{model}/prices`: every price version, so a report of any month can be explained. */
const pricesRoute = declareRoute({
  method: 'get',
  path: '/admin/models/{model{.+}}/prices',
  id: 'listModelPrices',
  summary: "Every price version of a model, oldest first",
  description:
    'A request is priced by the version in force when its budget is reserved (the latest `effective_at` that has come) and settled at that price. A model id that ends in `/prices` must be named with its `/` encoded.',
  ...models,
  params: modelParams,
  answers: { 200: jsonAnswer('the price versions', PriceVersionsAnswer) },
  errors: ['not_found', 'invalid_request'],
});

adminModelRoutes.openapi(pricesRoute, async function modelPrices(c) {
  const raw = rawModelPath(c.req.url);
  const model = modelParam(raw.slice(0, raw.length - '/prices'.length));
  const versions = await listPriceVersions(c.env.DB, model);
  if (!versions) throw new ApiError('not_found', `no model '${model}'`);
  return c.json({ versions: versions.map(priceVersionJson) }, 200);
});

const getModelRoute = declareRoute({
  method: 'get',
  path: MODEL_PATH,
  id: 'getModel',
  summary: "Read a model's price row and limits",
  ...models,
  params: modelParams,
  answers: { 200: jsonAnswer('the model', ModelAnswer) },
  errors: ['not_found', 'invalid_request'],
});

adminModelRoutes.openapi(getModelRoute, async function readModel(c) {
  const model = modelParam(rawModelPath(c.req.url));
  // read through to D1: an admin must see the row as stored, not an isolate's cached copy
  forgetModelSpec(model);
  const spec = await getModelSpec(c.env.DB, model, c.var.deps.now());
  if (!spec) throw new ApiError('not_found', `no model '${model}'`);
  return c.json(modelJson(spec), 200);
});

const putModelRoute = declareRoute({
  method: 'put',
  path: MODEL_PATH,
  id: 'putModel',
  summary: "Create or replace a model's limits, adding a price version",
  description:
    'cost = ceil(width × height × price_per_megapixel / 10^6 + max(0, steps − included_steps) × price_per_extra_step), in nano-USD. The limits apply at once; the price becomes a new version, in force from `effective_at` (ISO 8601 UTC, now when absent, may be in the future; a new model\'s first price must be in force now). Earlier versions stay, and a request is settled at the version it was reserved at. The answer is the model as it stands now.',
  ...models,
  params: modelParams,
  body: jsonBody(ModelPutSchema),
  answers: {
    200: jsonAnswer('the row, replaced', ModelAnswer),
    201: jsonAnswer('the row, created', ModelAnswer),
  },
});

adminModelRoutes.openapi(putModelRoute, async function putModel(c) {
  const model = modelParam(rawModelPath(c.req.url));
  const body = c.req.valid('json');
  if (body.model !== undefined && body.model !== model) {
    throw new ApiError('invalid_request', `'model' must match the path ('${model}') or be left out`, { param: 'model' });
  }
  const now = c.var.deps.now();
  const effectiveAt = body.effective_at === undefined ? new Date(now).toISOString() : new Date(body.effective_at).toISOString();
  const existed = await modelExists(c.env.DB, model);
  if (!existed && Date.parse(effectiveAt) > now) {
    throw new ApiError('invalid_request', `a new model's first price must be in force now; 'effective_at' (${effectiveAt}) is in the future`, {
      param: 'effective_at',
    });
  }
  // the row as stored, not an isolate's cached copy, is what the audit entry's `before` shows
  forgetModelSpec(model);
  const before = existed ? await getModelSpec(c.env.DB, model, now) : null;
  const put = modelPutOf(model, body);
  const change = {
    action: 'model.price_set',
    target: { type: 'model', id: model },
    tenantId: null,
    before: before ? modelJson(before) : null,
    after: { ...modelJson({ ...put, priceVersion: 0 }), effective_at: effectiveAt },
  } as const;
  const { results } = await commitAudited(c.env.DB, saveModelStatements(c.env.DB, put, effectiveAt, new Date(now).toISOString()), auditOf(c, change));
  savedVersion(results);
  forgetModelSpec(model);
  const spec = await getModelSpec(c.env.DB, model, now);
  if (!spec) throw new Error(`model '${model}' has no price in force after a PUT`);
  return c.json(modelJson(spec), existed ? 200 : 201);
});

function modelPutOf(model: string, body: z.infer<typeof ModelPutSchema>): ModelPut {
  return {
    model,
    // the schema accepted the strings, so they parse; 0 only satisfies the type
    pricePerMegapixel: parseUsd(body.price_per_megapixel_usd) ?? 0n,
    includedSteps: body.included_steps,
    pricePerExtraStep: parseUsd(body.price_per_extra_step_usd) ?? 0n,
    width: { min: body.width.min, max: body.width.max, multipleOf: body.width.multiple_of },
    height: { min: body.height.min, max: body.height.max, multipleOf: body.height.multiple_of },
    steps: body.steps,
    cfg: body.cfg,
  };
}
