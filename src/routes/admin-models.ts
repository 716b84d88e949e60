import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env';
import { zodToApiError } from '../domain/generation-request';
import type { ModelSpec } from '../domain/models';
import { formatUsd, parseUsd } from '../domain/money';
import { ApiError } from '../errors';
import { readJsonObject } from '../middleware/json-body';
import { upsertModel } from '../storage/model-prices';
import { forgetModelSpec, getModelSpec, listModelSpecs } from '../storage/models';
import { UsdString } from './admin-schemas';

/**
 * Price rows and request limits per model (CONTRACT §4, §8). A new model is data: PUT its row and
 * validation and pricing follow it.
 */
export const adminModelRoutes = new Hono<AppEnv>();

const MAX_SIDE = 16_384;
const Side = z
  .strictObject({ min: z.int().min(1).max(MAX_SIDE), max: z.int().min(1).max(MAX_SIDE), multiple_of: z.int().min(1).max(MAX_SIDE) })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['min'] });
const Steps = z
  .strictObject({ min: z.int().min(1).max(10_000), max: z.int().min(1).max(10_000) })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['min'] });
const Cfg = z
  .strictObject({ min: z.number().min(0).max(1_000), max: z.number().min(0).max(1_000) })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['min'] });

/** PUT replaces the whole row, so every field is required (`model` may repeat the path's). */
export const ModelPutSchema = z.strictObject({
  model: z.string().optional(),
  price_per_megapixel_usd: UsdString,
  included_steps: z.int().min(0).max(10_000),
  price_per_extra_step_usd: UsdString,
  width: Side,
  height: Side,
  steps: Steps,
  cfg: Cfg,
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

adminModelRoutes.get('/admin/models', async function listModels(c) {
  const specs = await listModelSpecs(c.env.DB);
  return c.json({ data: specs.map(modelJson) });
});

adminModelRoutes.get('/admin/models/:model{.+}', async function readModel(c) {
  const model = modelParam(rawModelPath(c.req.url));
  // read through to D1: an admin must see the row as stored, not an isolate's cached copy
  forgetModelSpec(model);
  const spec = await getModelSpec(c.env.DB, model, c.var.deps.now());
  if (!spec) throw new ApiError('not_found', `no model '${model}'`);
  return c.json(modelJson(spec));
});

adminModelRoutes.put('/admin/models/:model{.+}', async function putModel(c) {
  const model = modelParam(rawModelPath(c.req.url));
  const parsed = ModelPutSchema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw zodToApiError(parsed.error);
  const body = parsed.data;
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
  const saved = await upsertModel(c.env.DB, spec, new Date(c.var.deps.now()).toISOString());
  forgetModelSpec(model);
  return c.json(modelJson(saved.spec), saved.created ? 201 : 200);
});
