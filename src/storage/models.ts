import { nanoFromDb } from '../domain/money';
import { versionInForce, type ModelSpec, type PriceVersion } from '../domain/models';

/** The `models` row: a model's request limits. Its price columns are the last PUT's; prices are read from `model_prices`. */
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

export interface PriceRow {
  model: string;
  version: number;
  effective_at: string;
  price_per_megapixel_nano: number;
  included_steps: number;
  price_per_extra_step_nano: number;
}

export function versionFromRow(row: PriceRow): PriceVersion {
  return {
    version: row.version,
    effectiveAt: row.effective_at,
    pricePerMegapixel: nanoFromDb(row.price_per_megapixel_nano) ?? 0n,
    includedSteps: row.included_steps,
    pricePerExtraStep: nanoFromDb(row.price_per_extra_step_nano) ?? 0n,
  };
}

/** The model's limits with the prices of `price`. */
export function specFromRow(row: ModelRow, price: PriceVersion): ModelSpec {
  return {
    model: row.model,
    pricePerMegapixel: price.pricePerMegapixel,
    includedSteps: price.includedSteps,
    pricePerExtraStep: price.pricePerExtraStep,
    priceVersion: price.version,
    width: { min: row.width_min, max: row.width_max, multipleOf: row.width_multiple_of },
    height: { min: row.height_min, max: row.height_max, multipleOf: row.height_multiple_of },
    steps: { min: row.steps_min, max: row.steps_max },
    cfg: { min: row.cfg_min, max: row.cfg_max },
  };
}

/** A model with every price version it has; null when the model is unknown. */
interface ModelEntry {
  row: ModelRow;
  versions: PriceVersion[];
}

/** The spec as it stands at `now`: the limits and the price version in force then; null when none is in force yet. */
function specAt(entry: ModelEntry | null, now: number): ModelSpec | null {
  if (!entry) return null;
  const price = versionInForce(entry.versions, new Date(now).toISOString());
  return price ? specFromRow(entry.row, price) : null;
}

/**
 * Model rows change rarely and are read on every generation, so each isolate keeps them for a few
 * seconds. A limits edit reaches every isolate within MODEL_CACHE_MS (and this one at once). The
 * cache holds every price version, not one, and picks the version in force at each read: a version
 * whose effective_at has come is used from that millisecond on, cached or not.
 */
const MODEL_CACHE_MS = 5_000;
const cache = new Map<string, { entry: ModelEntry | null; at: number }>();

async function readModel(db: D1Database, model: string): Promise<ModelEntry | null> {
  const [rows, prices] = await db.batch<ModelRow | PriceRow>([
    db.prepare('SELECT * FROM models WHERE model = ?').bind(model),
    db.prepare('SELECT * FROM model_prices WHERE model = ? ORDER BY version').bind(model),
  ]);
  const row = rows?.results[0] as ModelRow | undefined;
  return row ? { row, versions: (prices?.results as PriceRow[]).map(versionFromRow) } : null;
}

export async function getModelSpec(db: D1Database, model: string, now = Date.now()): Promise<ModelSpec | null> {
  const hit = cache.get(model);
  if (hit && now - hit.at < MODEL_CACHE_MS && now >= hit.at) return specAt(hit.entry, now);
  const entry = await readModel(db, model);
  cache.set(model, { entry, at: now });
  return specAt(entry, now);
}

/** Every price version of a model, oldest first; null when the model is unknown. */
export async function listPriceVersions(db: D1Database, model: string): Promise<PriceVersion[] | null> {
  const entry = await readModel(db, model);
  return entry ? entry.versions : null;
}

export async function listModelSpecs(db: D1Database, now = Date.now()): Promise<ModelSpec[]> {
  const [rows, prices] = await db.batch<ModelRow | PriceRow>([
    db.prepare('SELECT * FROM models ORDER BY model'),
    db.prepare('SELECT * FROM model_prices ORDER BY model, version'),
  ]);
  const versions = (prices?.results as PriceRow[]) ?? [];
  return ((rows?.results as ModelRow[]) ?? []).flatMap((row) => {
    const spec = specAt({ row, versions: versions.filter((v) => v.model === row.model).map(versionFromRow) }, now);
    return spec ? [spec] : [];
  });
}

export function forgetModelSpec(model: string): void {
  cache.delete(model);
}
