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
  width: Range & { multipleOf: number };
  height: Range & { multipleOf: number };
  steps: Range;
  cfg: Range;
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
