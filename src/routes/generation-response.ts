import type { Context } from 'hono';
import type { AppEnv } from '../env';
import type { CacheDirectives } from '../domain/cache-key';
import { invalid } from '../domain/failure';
import type { GenerationRequest } from '../domain/generation-request';
import { base64FromBytes } from '../domain/image-format';
import type { ModelSpec } from '../domain/models';
import { formatUsd, type Nano } from '../domain/money';
import { parseMaxCost } from '../domain/pricing';
import { checkTags, mergeTags, parseTagsHeader, TAGS_HEADER, type Tags } from '../domain/tags';
import { ApiError } from '../errors';
import { assertModelAllowed } from '../middleware/tenant-auth';
import { generate, type GeneratedImage, type GenerationResult } from '../services/generation';
import { getModelSpec } from '../storage/models';
import { rateLimitHeaders } from './failures';
import { requestHash, withIdempotency } from './idempotency';
import { imageLinkPath } from '../services/image-links';

/** The model's price row and limits, for a model that exists (else 400) and the tenant may use (else 403). */
export async function modelFor(c: Context<AppEnv>, model: string): Promise<ModelSpec> {
  const spec = await getModelSpec(c.env.DB, model, c.var.deps.now());
  if (!spec) throw new ApiError('invalid_request', `unknown model '${model}'`, { param: 'model' });
  assertModelAllowed(c.var.caller, model);
  return spec;
}

/** `Imagegate-Max-Cost-USD` (docs/money.md): null when absent; a malformed value is a 400 naming the header. */
export function maxCostOf(c: Context<AppEnv>): Nano | null {
  const parsed = parseMaxCost(c.req.header('imagegate-max-cost-usd'));
  if (!parsed.ok) throw invalid(parsed.problem);
  return parsed.maxNano;
}

/**
 * The request's tags (docs/money.md): the key's `default_tags`, then what the route's body brings
 * (OpenAI's `user`), then the `Imagegate-Tags` header, a later one winning per name. A malformed
 * header is a 400 naming it, before anything is admitted or reserved.
 */
export function tagsOf(c: Context<AppEnv>, fromBody: Tags = {}): Tags {
  const header = parseTagsHeader(c.req.header('imagegate-tags'));
  if (!header.ok) throw invalid(header.problem);
  const tags = mergeTags(c.var.caller.key.defaultTags, fromBody, header.tags);
  // the header's own 8 and the body's `user` together may still be one too many
  const problem = checkTags(tags, TAGS_HEADER);
  if (problem) throw invalid(problem);
  return tags;
}

/**
 * Runs a route's generations through the pipeline, under the request's Idempotency-Key
 * (docs/cache.md): both generation routes call this, so they share one pipeline, one cache and one replay rule.
 * `hashed` is the parsed request as the route sees it; equal parsed requests replay the same answer.
 * `bodyTags` are tags the route's body brings (OpenAI's `user`).
 */
export async function runGenerations(
  c: Context<AppEnv>,
  spec: ModelSpec,
  requests: GenerationRequest[],
  hashed: { route: string; parsed: unknown },
  answer: (result: GenerationResult) => Response | Promise<Response>,
  bodyTags: Tags = {},
): Promise<Response> {
  const tags = tagsOf(c, bodyTags);
  const maxCostNano = maxCostOf(c);
  const idempotency = {
    env: c.env,
    caller: c.var.caller,
    header: c.req.header('idempotency-key'),
    bodyHash: await requestHash(hashed.route, hashed.parsed),
    requestId: c.var.requestId,
    now: c.var.deps.now,
  };
  return withIdempotency(idempotency, async () => {
    const result = await generate(
      {
        env: c.env,
        deps: c.var.deps,
        requestId: c.var.requestId,
        caller: c.var.caller,
        spec,
        directives: cacheDirectives(c.req.header('cache-control')),
        tags,
        maxCostNano,
        waitUntil: (p) => c.executionCtx.waitUntil(p),
        log: c.var.log,
      },
      requests,
    );
    return answer(result);
  });
}

/** `Cache-Control` directives a client may send on a generation (docs/cache.md). */
export function cacheDirectives(header: string | undefined): CacheDirectives {
  const parts = (header ?? '').toLowerCase().split(',').map((p) => p.trim());
  return { noCache: parts.includes('no-cache'), noStore: parts.includes('no-store') };
}

/**
 * The RFC 9211 `Cache-Status` of one image: a hit (or an identical request in flight that made it)
 * was served by the cache; otherwise why the origin was asked (`fwd`) and whether the result was
 * `stored`.
 */
export function cacheStatusOf(image: GeneratedImage, directives: CacheDirectives): string {
  if (image.cache === 'hit') return 'imagegate; hit';
  if (image.cache === 'coalesced') return 'imagegate; hit; detail=coalesced';
  if (directives.noStore) return 'imagegate; fwd=request';
  if (directives.noCache) return 'imagegate; fwd=request; stored';
  if (image.drawn) return 'imagegate; fwd=bypass; stored';
  return 'imagegate; fwd=miss; stored';
}

/** The headers every generation answer carries (docs/generation.md); per-image ones are the first image's. */
export function generationHeaders(result: GenerationResult, first: GeneratedImage, directives: CacheDirectives): Record<string, string> {
  const budget = result.budgetRemainingNano;
  return {
    ...(result.rateLimit ? rateLimitHeaders(result.rateLimit) : {}),
    ...(budget === null ? {} : { 'Imagegate-Budget-Remaining-USD': formatUsd(budget < 0n ? 0n : budget) }),
    'Cache-Status': cacheStatusOf(first, directives),
    'Imagegate-Cost-USD': formatUsd(result.costNano),
    'Imagegate-Origin': first.origin,
    'Imagegate-Seed': String(first.request.seed),
  };
}

export function formatOf(image: GeneratedImage): 'png' | 'jpeg' | 'webp' {
  return image.contentType === 'image/jpeg' ? 'jpeg' : image.contentType === 'image/webp' ? 'webp' : 'png';
}

/** The absolute link to an image in a generation answer: signed to work with no key until it expires (./images.ts). */
export async function imageUrl(c: Context<AppEnv>, image: GeneratedImage): Promise<string> {
  return new URL(await imageLinkPath(c.env, image.id, c.var.deps.now()), c.req.url).href;
}

/** The Qubrid-compatible answer: the image bytes, or with `Accept: application/json` a JSON description. */
export async function qubridAnswer(c: Context<AppEnv>, result: GenerationResult): Promise<Response> {
  const image = result.images[0];
  if (!image) throw new Error('a generation without an image');
  const headers = generationHeaders(result, image, cacheDirectives(c.req.header('cache-control')));
  if (wantsJson(c.req.header('accept'))) {
    return c.json(
      {
        id: image.id,
        created: Math.floor(c.var.deps.now() / 1000),
        model: image.request.model,
        seed: image.request.seed,
        width: image.request.width,
        height: image.request.height,
        output_format: formatOf(image),
        cost_usd: formatUsd(image.costNano),
        cache: image.cache,
        image_base64: base64FromBytes(image.bytes),
        url: await imageUrl(c, image),
      },
      200,
      headers,
    );
  }
  return new Response(image.bytes, { status: 200, headers: { ...headers, 'Content-Type': image.contentType } });
}

/** True when the client prefers JSON to an image (`Accept: application/json`). */
export function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept
    .toLowerCase()
    .split(',')
    .some((part) => {
      const [type, ...params] = part.split(';').map((s) => s.trim());
      const q = params.find((p) => p.startsWith('q='));
      return type === 'application/json' && (!q || Number(q.slice(2)) > 0);
    });
}
