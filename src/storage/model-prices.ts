import type { ModelSpec } from '../domain/models';
import { nanoToDb } from '../domain/money';
import { specFromRow, type ModelRow } from './models';

/** Writing price rows (docs/admin.md `PUT /admin/models/{model}`); reads live in storage/models. */

/** Creates or replaces a model's price row; `created` tells which. */
export async function upsertModel(db: D1Database, spec: ModelSpec, nowIso: string): Promise<{ spec: ModelSpec; created: boolean }> {
  const existed = await db.prepare('SELECT 1 AS one FROM models WHERE model = ?').bind(spec.model).first<{ one: number }>();
  const row = await upsertModelStatement(db, spec, nowIso).first<ModelRow>();
  if (!row) throw new Error('upserting a model returned no row');
  return { spec: specFromRow(row), created: !existed };
}

/** The row a batch's upsert (`upsertModelStatement`) returned. */
export function modelFromResult(result: D1Result | undefined): ModelSpec | null {
  const row = result?.results[0] as ModelRow | undefined;
  return row ? specFromRow(row) : null;
}

/** The upsert as a statement, for a batch with its audit entry; it returns the row. */
export function upsertModelStatement(db: D1Database, spec: ModelSpec, nowIso: string): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO models (model, price_per_megapixel_nano, included_steps, price_per_extra_step_nano,
         width_min, width_max, width_multiple_of, height_min, height_max, height_multiple_of,
         steps_min, steps_max, cfg_min, cfg_max, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
       ON CONFLICT (model) DO UPDATE SET
         price_per_megapixel_nano = ?2, included_steps = ?3, price_per_extra_step_nano = ?4,
         width_min = ?5, width_max = ?6, width_multiple_of = ?7, height_min = ?8, height_max = ?9, height_multiple_of = ?10,
         steps_min = ?11, steps_max = ?12, cfg_min = ?13, cfg_max = ?14, updated_at = ?15
       RETURNING *`,
    )
    .bind(
      spec.model,
      nanoToDb(spec.pricePerMegapixel),
      spec.includedSteps,
      nanoToDb(spec.pricePerExtraStep),
      spec.width.min,
      spec.width.max,
      spec.width.multipleOf,
      spec.height.min,
      spec.height.max,
      spec.height.multipleOf,
      spec.steps.min,
      spec.steps.max,
      spec.cfg.min,
      spec.cfg.max,
      nowIso,
    );
}
