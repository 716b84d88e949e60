import type { Nano } from './money';

export const DEFAULT_MODEL = 'stabilityai/stable-diffusion-3.5-large';

export interface Range {
  min: number;
  max: number;
}

/** A model's price row and the limits a request for it must respect (docs/generation.md, docs/money.md). */
export interface ModelSpec {
  model: string;
  pricePerMegapixel: Nano;
  includedSteps: number;
  pricePerExtraStep: Nano;
  /** The price version these three prices are (docs/money.md: prices change without rewriting history). */
  priceVersion: number;
  width: Range & { multipleOf: number };
  height: Range & { multipleOf: number };
  steps: Range;
  cfg: Range;
}

/** One price a model has had, has, or will have from `effectiveAt` (ISO 8601 UTC) on. */
export interface PriceVersion {
  version: number;
  effectiveAt: string;
  pricePerMegapixel: Nano;
  includedSteps: number;
  pricePerExtraStep: Nano;
}

/** The version in force at `nowIso`: the latest whose effective_at has come; null when none has yet. */
export function versionInForce<V extends Pick<PriceVersion, 'effectiveAt' | 'version'>>(versions: readonly V[], nowIso: string): V | null {
  let best: V | null = null;
  for (const v of versions) {
    if (v.effectiveAt > nowIso) continue;
    if (!best || v.effectiveAt > best.effectiveAt || (v.effectiveAt === best.effectiveAt && v.version > best.version)) best = v;
  }
  return best;
}

/** Defaults of a request that leaves a field out (Qubrid's own defaults, docs/generation.md). */
export const REQUEST_DEFAULTS = {
  width: 1024,
  height: 1024,
  steps: 30,
  cfg: 7.5,
  output_format: 'png',
  negative_prompt: '',
} as const;
