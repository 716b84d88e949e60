import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env';
import {
  charCount,
  checkAgainstModel,
  type GenerationRequest,
  MAX_PROMPT_CHARS,
  MAX_SEED,
  OUTPUT_FORMATS,
  requestedModel,
  zodToApiError,
} from '../domain/generation-request';
import { base64FromBytes } from '../domain/image-format';
import { REQUEST_DEFAULTS } from '../domain/models';
import { ApiError } from '../errors';
import { readJsonObject } from '../middleware/json-body';
import { tenantAuth } from '../middleware/tenant-auth';
import type { GenerationResult } from '../services/generation';
import { generationHeaders, imageUrl, modelFor, runGenerations } from './generation-response';

const MAX_IMAGES_PER_REQUEST = 4;

// characters as a person counts them (code points), as the Qubrid route counts them
const withinPromptLimit = (s: string) => charCount(s) <= MAX_PROMPT_CHARS;
const PROMPT_LIMIT = `at most ${MAX_PROMPT_CHARS} characters`;

/**
 * OpenAI's `images.generate` body (CONTRACT §3) plus the extensions an SD model needs. Strict, like
 * the Qubrid body: an unknown field (OpenAI's `quality`, a misspelt `step`) is a 400 naming it rather
 * than an image made with a default nobody asked for. OpenAI's own fields also accept `null` for
 * "default", as OpenAI's API does.
 */
export const OpenAIImagesBodySchema = z
  .strictObject({
    model: z.string().min(1).max(200).nullish().describe('default stabilityai/stable-diffusion-3.5-large; must be a known model'),
    prompt: z.string().min(1).refine(withinPromptLimit, PROMPT_LIMIT).describe(`1 to ${MAX_PROMPT_CHARS} characters`),
    n: z.int().min(1).max(MAX_IMAGES_PER_REQUEST).nullish().describe('how many images (default 1), with seeds seed, seed+1, …'),
    size: z
      .string()
      .regex(/^(auto|\d{1,5}x\d{1,5})$/, 'must be "WIDTHxHEIGHT", e.g. "1024x1024" (or "auto" for the model default)')
      .nullish()
      .describe('"WIDTHxHEIGHT" within the model\'s limits (SD 3.5 Large: 256–2048, multiples of 16); default and "auto": 1024x1024'),
    response_format: z.enum(['b64_json', 'url']).nullish().describe('b64_json (default), or url: an absolute /v1/images/{id} link'),
    output_format: z.enum(OUTPUT_FORMATS).nullish().describe('default png'),
    user: z.string().max(256).nullish().describe('your end user, for the request log'),
    negative_prompt: z.string().refine(withinPromptLimit, PROMPT_LIMIT).nullish().describe(`at most ${MAX_PROMPT_CHARS} characters`),
    steps: z.int().nullish().describe('default 30 (SD 3.5 Large: 1–100; steps above 30 cost extra)'),
    cfg: z.number().nullish().describe('default 7.5 (SD 3.5 Large: 0–20)'),
    seed: z.int().min(0).max(MAX_SEED).nullish().describe('the first image\'s seed; without one the gateway draws it (and the cache is not looked up)'),
  })
  .meta({ examples: [{ prompt: 'a lighthouse on a cliff at dawn, oil painting', negative_prompt: 'blurry', size: '1024x1024', n: 2, seed: 42 }] });
export type OpenAIImagesBody = z.infer<typeof OpenAIImagesBodySchema>;

/** The answer, as the OpenAI SDKs read it (`ImagesResponse`), with each image's seed and cache outcome. */
export const OpenAIImagesAnswerSchema = z.strictObject({
  created: z.int(),
  data: z.array(
    z.strictObject({
      b64_json: z.string().optional(),
      url: z.string().optional(),
      revised_prompt: z.null(),
      seed: z.int(),
      cache: z.enum(['hit', 'miss', 'bypass', 'coalesced']),
    }),
  ),
});

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

export const openAIImageRoutes = new Hono<AppEnv>();

openAIImageRoutes.post('/v1/images/generations', tenantAuth(), async function openAIGeneration(c) {
  const parsed = OpenAIImagesBodySchema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw zodToApiError(parsed.error);
  const body = parsed.data;
  const model = requestedModel({ model: body.model ?? undefined });
  const spec = await modelFor(c, model);
  const base = checkAgainstModel(
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
  );
  if (body.user) c.var.log.user = body.user.slice(0, 64);
  const requests = openAIRequests(body, base);
  const format = body.response_format ?? 'b64_json';
  const hashed = { route: 'v1/images/generations', parsed: { requests, format, user: body.user ?? null } };
  return runGenerations(c, spec, requests, hashed, (result) => openAIAnswer(c, format, result));
});

/** `{created, data}` with the Qubrid route's headers: costs summed, Cache-Status of the first image. */
function openAIAnswer(c: Context<AppEnv>, format: 'b64_json' | 'url', result: GenerationResult): Response {
  const first = result.images[0];
  if (!first) throw new Error('a generation without an image');
  const answer = {
    created: Math.floor(c.var.deps.now() / 1000),
    data: result.images.map((image) => ({
      ...(format === 'url' ? { url: imageUrl(c, image) } : { b64_json: base64FromBytes(image.bytes) }),
      revised_prompt: null,
      seed: image.request.seed,
      cache: image.cache,
    })),
  };
  return c.json(answer, 200, generationHeaders(c, result, first));
}
