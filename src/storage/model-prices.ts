import type { ModelSpec, PriceVersion } from '../domain/models';
import { nanoToDb } from '../domain/money';
import { versionFromRow, type PriceRow } from './models';

/** Writing model rows and price versions (docs/admin.md `PUT /admin/models/{model}`); reads live in storage/models. */

/** A PUT's content: the model's limits, and the price that becomes a new version from `effectiveAt` on. */
export type ModelPut = Omit<ModelSpec, 'priceVersion'>;

export async function modelExists(db: D1Database, model: string): Promise<boolean> {
  return (await db.prepare('SELECT 1 AS one FROM models WHERE model = ?').bind(model).first<{ one: number }>()) !== null;
}

/**
 * Creates or replaces a model's limits and adds a price version in force from `effectiveAt`, in
 * one batch; earlier versions stay as they are. The version number is the model's highest plus one,
 * counted inside the batch, so two PUTs at once get two numbers. Answers the new version.
 */
export async function saveModel(db: D1Database, put: ModelPut, effectiveAt: string, nowIso: string): Promise<PriceVersion> {
  const results = await db.batch<PriceRow>(saveModelStatements(db, put, effectiveAt, nowIso));
  return savedVersion(results);
}

/** `saveModel` as statements, for a batch with its audit entry; the price version's insert comes last. */
export function saveModelStatements(db: D1Database, put: ModelPut, effectiveAt: string, nowIso: string): D1PreparedStatement[] {
  const prices = [nanoToDb(put.pricePerMegapixel), put.includedSteps, nanoToDb(put.pricePerExtraStep)] as const;
  const limits = [put.width.min, put.width.max, put.width.multipleOf, put.height.min, put.height.max, put.height.multipleOf,
    put.steps.min, put.steps.max, put.cfg.min, put.cfg.max] as const;
  const upsert = db
    .prepare(
      `INSERT INTO models (model, price_per_megapixel_nano, included_steps, price_per_extra_step_nano,
         width_min, width_max, width_multiple_of, height_min, height_max, height_multiple_of,
         steps_min, steps_max, cfg_min, cfg_max, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
       ON CONFLICT (model) DO UPDATE SET
         price_per_megapixel_nano = ?2, included_steps = ?3, price_per_extra_step_nano = ?4,
         width_min = ?5, width_max = ?6, width_multiple_of = ?7, height_min = ?8, height_max = ?9, height_multiple_of = ?10,
         steps_min = ?11, steps_max = ?12, cfg_min = ?13, cfg_max = ?14, updated_at = ?15`,
    )
    .bind(put.model, ...prices, ...limits, nowIso);
  const version = db
    .prepare(
      `INSERT INTO model_prices (model, version, effective_at, price_per_megapixel_nano, included_steps, price_per_extra_step_nano, created_at)
       SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4, ?5, ?6 FROM model_prices WHERE model = ?1
       RETURNING *`,
    )
    .bind(put.model, effectiveAt, ...prices, nowIso);
  return [upsert, version];
}

/** The price version a batch of `saveModelStatements` added. */
export function savedVersion(results: D1Result[]): PriceVersion {
  const row = results[1]?.results[0] as PriceRow | undefined;
  if (!row) throw new Error('adding a price version returned no row');
  return versionFromRow(row);
}
