import { DEFAULT_MODEL } from './api';

/**
 * The price row the migrations seed for DEFAULT_MODEL, as GET /admin/models/{model} answers it
 * (docs/admin.md). `changes` replace fields, e.g. `seedPriceRow({ model })` for a fresh model at
 * the seed's prices and limits.
 */
export function seedPriceRow(changes: Record<string, unknown> = {}) {
  return {
    model: DEFAULT_MODEL,
    price_per_megapixel_usd: '0.0019',
    included_steps: 30,
    price_per_extra_step_usd: '0.00005',
    width: { min: 256, max: 2048, multiple_of: 16 },
    height: { min: 256, max: 2048, multiple_of: 16 },
    steps: { min: 1, max: 100 },
    cfg: { min: 0, max: 20 },
    ...changes,
  };
}

/**
 * A PUT body unlike the seed in every field (no `model`: the path names it): dearer, fewer steps
 * included, small sides in steps of 64, at most 20 steps and cfg 5, so a test can tell its
 * prices and limits from the seed's.
 */
export function customPriceRow(changes: Record<string, unknown> = {}) {
  return {
    price_per_megapixel_usd: '0.01',
    included_steps: 10,
    price_per_extra_step_usd: '0.001',
    width: { min: 64, max: 512, multiple_of: 64 },
    height: { min: 64, max: 512, multiple_of: 64 },
    steps: { min: 1, max: 20 },
    cfg: { min: 1, max: 5 },
    ...changes,
  };
}
