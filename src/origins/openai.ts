import { httpAdapter, openAiStyleImage, type HttpKind } from './http';
import type { OriginConfig } from './config';

/**
 * A self-hosted server speaking OpenAI's Images API (`POST {url}/v1/images/generations`).
 *
 * OpenAI's API has no seed, steps, guidance or negative prompt; the servers that imitate it and run
 * diffusion models take them as extra fields under these names (`cfg_scale` as A1111 and LocalAI
 * call it). `n` is always 1: the gateway asks once per image so each has its own seed and charge.
 *
 * Seeds: these servers disagree on what "no seed" is (absent, 0, or −1 all occur), so 0 is never
 * sent; the gateway draws seeds from 1 and an explicit seed 0 passes this kind over. Every other
 * seed of ours (1..2^32−1) is sent as is.
 */
export const openaiKind: HttpKind = {
  kind: 'openai',
  // A base URL that already ends in /v1 (as OpenAI SDKs take it) is not doubled.
  path: (origin: OriginConfig) => (/\/v1\/*$/.test(origin.url ?? '') ? '/images/generations' : '/v1/images/generations'),
  body: ({ request: r }) => ({
    model: r.model,
    prompt: r.prompt,
    n: 1,
    size: `${r.width}x${r.height}`,
    response_format: 'b64_json',
    seed: r.seed,
    steps: r.steps,
    cfg_scale: r.cfg,
    ...(r.negative_prompt ? { negative_prompt: r.negative_prompt } : {}),
  }),
  imageIn: openAiStyleImage,
  unsupported: (r) => (r.seed === 0 ? 'kind openai may read seed 0 as "random"' : null),
};

export const openaiAdapter = httpAdapter(openaiKind);
