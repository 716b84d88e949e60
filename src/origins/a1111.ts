import { httpAdapter, type HttpKind, type ImageRef } from './http';

/**
 * AUTOMATIC1111 / Forge: `POST {url}/sdapi/v1/txt2img`, answered by `{ images: [base64, …] }`.
 *
 * Seeds: A1111 reads only −1 (or an empty seed) as "random" (`get_fixed_seed` in
 * modules/processing.py); 0..2^32−1 are fixed seeds, so every seed of ours is sent as is and a
 * negative one never is. The checkpoint is whatever the server has loaded: which models it serves
 * is said by the origin's `models` in ORIGINS, not sent per request.
 */
export const a1111Kind: HttpKind = {
  kind: 'a1111',
  path: () => '/sdapi/v1/txt2img',
  body: ({ request: r }) => ({
    prompt: r.prompt,
    negative_prompt: r.negative_prompt,
    width: r.width,
    height: r.height,
    steps: r.steps,
    cfg_scale: r.cfg,
    seed: r.seed,
    // no variation seed: the image must follow from `seed` alone
    subseed: -1,
    subseed_strength: 0,
    batch_size: 1,
    n_iter: 1,
    send_images: true,
    save_images: false,
  }),
  imageIn: (json): ImageRef | null => {
    const images = (json as { images?: unknown })?.images;
    const first: unknown = Array.isArray(images) ? images[0] : undefined;
    return typeof first === 'string' && first.length > 0 ? { base64: first } : null;
  },
  unsupported: (r) => (r.seed < 0 ? 'kind a1111 reads a negative seed as "random"' : null),
};

export const a1111Adapter = httpAdapter(a1111Kind);
