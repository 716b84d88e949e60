import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { checkAgainstModel, type GenerationRequest, MAX_SEED, requestedModel } from '../domain/generation-request';
import { invalid } from '../domain/failure';
import { base64FromBytes } from '../domain/image-format';
import { checkTags } from '../domain/tags';
import { REQUEST_DEFAULTS } from '../domain/models';
import { ApiError } from '../errors';
import { declareRoute, GENERATION_ERRORS, GENERATION_HEADERS, jsonBody } from '../openapi/describe';
import type { GenerationResult } from '../services/generation';
import { requireOriginConfig } from '../services/gateway-problems';
import { OpenAIImagesAnswer } from '../schemas/answers';
import { OPENAI_IGNORED_FIELDS, OpenAIGenerationHeaders, OpenAIImagesBodySchema, type OpenAIImagesBody } from '../schemas/requests';
import { checkedOrThrow } from './failures';
import { cacheDirectives, generationHeaders, imageUrl, modelFor, runGenerations } from './generation-response';
import { routeGroup } from './route-group';

/** `"1024x768"` → width and height; `auto` or absent → the defaults. */
function parseSize(size: string | null | undefined): { width?: number; height?: number } {
  if (!size || size === 'auto') return {};
  const [width, height] = size.split('x').map(Number);
  return { width, height };
}

/** The n generations one body asks for: seeds seed, seed+1, … (or all drawn by the pipeline, consecutively). */
function openAIRequests(body: OpenAIImagesBody, base: GenerationRequest): GenerationRequest[] {
  const n = body.n ?? 1;
  const seed = body.seed ?? null;
  if (seed !== null && seed + n - 1 > MAX_SEED) {
    throw new ApiError('invalid_request', `'seed' + n - 1 must be at most ${MAX_SEED}: n images use seeds seed … seed+n-1`, {
      param: 'seed',
    });
  }
  return Array.from({ length: n }, (_, i) => ({ ...base, seed: seed === null ? null : seed + i }));
}

/** `POST /v1/images/generations`: OpenAI's `images.generate` (docs/generation.md). */
export const openAIImageRoutes = routeGroup();

const openAIRoute = declareRoute({
  method: 'post',
  path: '/v1/images/generations',
  id: 'createImagesOpenAI',
  summary: 'Generate 1–4 images (OpenAI-compatible)',
  description:
    'The official `openai` SDKs work against it with `baseURL = "<gateway>/v1"` and the tenant key as `apiKey`. `n > 1` makes n generations with seeds seed, seed+1, … (drawn consecutively when no seed is given), each priced and cached on its own; the budget for all of them is reserved at once, so a budget that fits only some refuses the whole request with 402 before any origin is called. Headers as for `/image/generation`: costs summed, `Cache-Status` of the first image.',
  tag: 'generation',
  auth: 'tenant',
  headers: OpenAIGenerationHeaders,
  body: jsonBody(OpenAIImagesBodySchema),
  answers: {
    200: {
      description: 'the images, as b64_json or as /v1/images/{id} links',
      headers: {
        ...GENERATION_HEADERS,
        'Imagegate-Ignored-Fields': {
          description: "OpenAI's fields that were sent and that no origin uses, e.g. `quality, style`; absent when none was sent",
          schema: { type: 'string' },
        },
      },
      content: { 'application/json': { schema: OpenAIImagesAnswer } },
    },
  },
  errors: GENERATION_ERRORS,
});

openAIImageRoutes.openapi(openAIRoute, async function openAIGeneration(c) {
  const body = c.req.valid('json');
  const model = requestedModel({ model: body.model ?? undefined });
  const spec = await modelFor(c, model);
  const base = checkedOrThrow(checkAgainstModel(
    {
      model: spec.model,
      prompt: body.prompt,
      negative_prompt: body.negative_prompt ?? REQUEST_DEFAULTS.negative_prompt,
      ...parseSize(body.size),
      steps: body.steps ?? undefined,
      cfg: body.cfg ?? undefined,
      seed: null,
      output_format: body.output_format ?? REQUEST_DEFAULTS.output_format,
    },
    spec,
    { width: 'size', height: 'size' },
  ));
  if (body.user) c.var.log.user = body.user.slice(0, 64);
  const requests = openAIRequests(body, base);
  requireOriginConfig(c.env, c.var.requestId);
  const format = body.response_format ?? 'b64_json';
  const ignored = ignoredFields(body);
  const named = Object.keys(ignored);
  // ignored fields do not change the image (not in the cache key) but are part of the body (in the Idempotency-Key hash)
  const parsed = { requests, format, user: body.user ?? null, ...(named.length > 0 ? { ignored } : {}) };
  // OpenAI's `user` becomes the tag `user` (docs/money.md); one that breaks the tag rules is a 400 naming it
  const userTags: Record<string, string> = body.user ? { user: body.user } : {};
  const problem = checkTags(userTags, 'user');
  if (problem) throw invalid(problem);
  const response = await runGenerations(c, spec, requests, { route: 'v1/images/generations', parsed }, (result) => openAIAnswer(c, format, result), userTags);
  // set here rather than in the answer, so a replayed answer carries it too
  if (response.status === 200 && named.length > 0) response.headers.set('Imagegate-Ignored-Fields', named.join(', '));
  // a replayed Idempotency-Key answer is a plain Response, which the library's typed answers
  // (derived from the declared JSON) cannot name; the document still declares the JSON
  return response as never;
});

/** OpenAI's fields that were sent (not null) and that no origin uses, in the order OpenAI lists them. */
function ignoredFields(body: OpenAIImagesBody): Partial<Pick<OpenAIImagesBody, (typeof OPENAI_IGNORED_FIELDS)[number]>> {
  return Object.fromEntries(OPENAI_IGNORED_FIELDS.flatMap((field) => (body[field] == null ? [] : [[field, body[field]]])));
}

/** `{created, data}` with the Qubrid route's headers: costs summed, Cache-Status of the first image. */
async function openAIAnswer(c: Context<AppEnv>, format: 'b64_json' | 'url', result: GenerationResult): Promise<Response> {
  const first = result.images[0];
  if (!first) throw new Error('a generation without an image');
  const answer = {
    created: Math.floor(c.var.deps.now() / 1000),
    data: await Promise.all(
      result.images.map(async (image) => ({
        ...(format === 'url' ? { url: await imageUrl(c, image) } : { b64_json: base64FromBytes(image.bytes) }),
        revised_prompt: null,
        seed: image.request.seed,
        cache: image.cache,
      })),
    ),
  };
  return c.json(answer, 200, generationHeaders(result, first, cacheDirectives(c.req.header('cache-control'))));
}
