import { nanoFromDb } from '../domain/money';
import type { ModelSpec } from '../domain/models';

export interface ModelRow {
  model: string;
  price_per_megapixel_nano: number;
  included_steps: number;
  price_per_extra_step_nano: number;
  width_min: number;
  width_max: number;
  width_multiple_of: number;
  height_min: number;
  height_max: number;
  height_multiple_of: number;
  steps_min: number;
  steps_max: number;
  cfg_min: number;
  cfg_max: number;
  updated_at: string;
}

export function specFromRow(row: ModelRow): ModelSpec {
  return {
    model: row.model,
    pricePerMegapixel: nanoFromDb(row.price_per_megapixel_nano) ?? 0n,
    includedSteps: row.included_steps,
    pricePerExtraStep: nanoFromDb(row.price_per_extra_step_nano) ?? 0n,
    width: { min: row.width_min, max: row.width_max, multipleOf: row.width_multiple_of },
    height: { min: row.height_min, max: row.height_max, multipleOf: row.height_multiple_of },
    steps: { min: row.steps_min, max: row.steps_max },
    cfg: { min: row.cfg_min, max: row.cfg_max },
  };
}

/**
 * Price rows change rarely and are read on every generation, so each isolate keeps them for a few
 * seconds. A price edit reaches every isolate within MODEL_CACHE_MS (and this one at once).
 */
const MODEL_CACHE_MS = 5_000;
const cache = new Map<string, { spec: ModelSpec | null; at: number }>();

export async function getModelSpec(db: D1Database, model: string, now = Date.now()): Promise<ModelSpec | null> {
  const hit = cache.get(model);
  if (hit && now - hit.at < MODEL_CACHE_MS && now >= hit.at) return hit.spec;
  const row = await db.prepare('SELECT * FROM models WHERE model = ?').bind(model).first<ModelRow>();
  const spec = row ? specFromRow(row) : null;
  cache.set(model, { spec, at: now });
  return spec;
}

export async function listModelSpecs(db: D1Database): Promise<ModelSpec[]> {
  const { results } = await db.prepare('SELECT * FROM models ORDER BY model').all<ModelRow>();
  return results.map(specFromRow);
}

export function forgetModelSpec(model: string): void {
  cache.delete(model);
}
