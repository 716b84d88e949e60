import type { FieldProblem } from './failure';
import type { GenerationRequest } from './generation-request';
import type { ModelSpec } from './models';
import { parseUsd, type Nano } from './money';

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

/** The list price of a whole request: every image as if it went to the origin. */
export function listPriceOf(spec: ModelSpec, requests: Pick<GenerationRequest, 'width' | 'height' | 'steps'>[]): Nano {
  return requests.reduce((sum, r) => sum + priceOf(spec, r), 0n);
}

export const MAX_COST_HEADER = 'Imagegate-Max-Cost-USD';

/** `Imagegate-Max-Cost-USD: 0.01` → 10_000_000n; absent → null; anything but a plain USD decimal → a problem naming the header. */
export function parseMaxCost(header: string | undefined): { ok: true; maxNano: Nano | null } | { ok: false; problem: FieldProblem } {
  if (header === undefined) return { ok: true, maxNano: null };
  const nano = parseUsd(header.trim());
  if (nano === undefined) {
    return { ok: false, problem: { param: MAX_COST_HEADER, message: `${MAX_COST_HEADER} must be a non-negative decimal of USD with at most 9 decimals, e.g. "0.01"` } };
  }
  return { ok: true, maxNano: nano };
}
