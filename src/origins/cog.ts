import type { OutputFormat } from '../domain/generation-request';
import { httpAdapter, type HttpKind, type ImageRef } from './http';

/** Replicate's names for the formats (its image models take `jpg`, not `jpeg`). */
const COG_FORMAT: Record<OutputFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

/**
 * Replicate Cog: `POST {url}/predictions` with `{ input: {...} }`, answered synchronously by
 * `{ status, output }` where `output` is a data URL, a URL, or a list of them (the first is ours).
 * Input names are those of Replicate's diffusers-based image models.
 *
 * Seeds: each Cog model picks its own convention; "leave blank to randomize" is the usual one, but
 * many read 0 (`if seed:`) and some −1 as random. So 0 is never sent: the gateway draws seeds from
 * 1, and an explicit seed 0 passes this kind over. Every other seed is sent as is.
 */
export const cogKind: HttpKind = {
  kind: 'cog',
  path: () => '/predictions',
  body: ({ request: r }) => ({
    input: {
      prompt: r.prompt,
      ...(r.negative_prompt ? { negative_prompt: r.negative_prompt } : {}),
      width: r.width,
      height: r.height,
      num_inference_steps: r.steps,
      guidance_scale: r.cfg,
      seed: r.seed,
      num_outputs: 1,
      output_format: COG_FORMAT[r.output_format],
    },
  }),
  imageIn: (json): ImageRef | null => {
    const output = (json as { output?: unknown })?.output;
    const first: unknown = Array.isArray(output) ? output[0] : output;
    if (typeof first !== 'string' || first.length === 0) return null;
    return first.startsWith('data:') ? { base64: first } : { url: first };
  },
  unsupported: (r) => (r.seed <= 0 ? 'kind cog may read seed 0 as "random"' : null),
};

export const cogAdapter = httpAdapter(cogKind);
