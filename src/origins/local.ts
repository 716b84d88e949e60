import { encodePng } from '../domain/png';
import type { SeededRequest } from '../domain/generation-request';
import type { OriginAdapter } from './types';

/**
 * The bundled local origin (docs/origins.md): a deterministic PNG made from the prompt and seed, so
 * `npm run dev` and the tests need no GPU and no network. Same request, same bytes; another seed
 * or prompt, another picture. It always answers PNG, whatever `output_format` asks.
 *
 * It runs inside the gateway's isolate rather than as a second Worker: one process to start, and
 * an origin that is only ever reached when ORIGINS names kind `local`, which the production
 * wrangler.toml never does.
 */
export const localAdapter: OriginAdapter = {
  kind: 'local',
  async generate(_origin, call) {
    const bytes = await renderLocalImage(call.request);
    return { ok: true, bytes, contentType: 'image/png' };
  },
};

/** FNV-1a over the pixel-shaping fields, then a small PRNG: the picture's parameters. */
function paletteFor(request: SeededRequest): number[] {
  const text = JSON.stringify([request.model, request.prompt, request.negative_prompt, request.steps, request.cfg, request.seed]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const out: number[] = [];
  for (let i = 0; i < 12; i++) {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    h >>>= 0;
    out.push(h);
  }
  return out;
}

/** A diagonal two-colour gradient crossed by soft rings: easy to tell apart at a glance, cheap to compress. */
async function renderLocalImage(request: SeededRequest): Promise<Uint8Array> {
  const { width, height } = request;
  const p = paletteFor(request);
  const colour = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff] as const;
  const [a0, a1, a2] = colour(p[0] ?? 0);
  const [b0, b1, b2] = colour(p[1] ?? 0);
  const cx = ((p[2] ?? 0) % 1000) / 1000;
  const cy = ((p[3] ?? 0) % 1000) / 1000;
  const period = 24 + ((p[4] ?? 0) % 96);
  const rgb = new Uint8Array(width * height * 3);
  const diagonal = width + height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / diagonal;
      const dx = x - cx * width;
      const dy = y - cy * height;
      const ring = (Math.floor(Math.sqrt(dx * dx + dy * dy) / period) & 1) === 0 ? 1 : 0.82;
      const i = (y * width + x) * 3;
      rgb[i] = (a0 + (b0 - a0) * t) * ring;
      rgb[i + 1] = (a1 + (b1 - a1) * t) * ring;
      rgb[i + 2] = (a2 + (b2 - a2) * t) * ring;
    }
  }
  return encodePng(width, height, rgb);
}
