import type { GenerationRequest } from './generation-request';
import type { ModelSpec } from './models';
import type { Nano } from './money';

const PIXELS_PER_MEGAPIXEL = 1_000_000n;

/**
 * docs/money.md: cost = ceil(w × h × per-megapixel / 1e6 + max(0, steps − included) × per-step), in
 * nano-USD. The per-step part is already whole nano-USD, so only the pixel part needs rounding up.
 */
export function priceOf(spec: ModelSpec, request: Pick<GenerationRequest, 'width' | 'height' | 'steps'>): Nano {
  const pixels = BigInt(request.width) * BigInt(request.height);
  const pixelPart = (pixels * spec.pricePerMegapixel + PIXELS_PER_MEGAPIXEL - 1n) / PIXELS_PER_MEGAPIXEL;
  return pixelPart + BigInt(extraSteps(spec, request.steps)) * spec.pricePerExtraStep;
}

export function extraSteps(spec: ModelSpec, steps: number): number {
  return Math.max(0, steps - spec.includedSteps);
}
