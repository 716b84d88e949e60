import { MAX_SEED, QubridBodySchema } from '../domain/generation-request';
import { OpenAIImagesBodySchema } from '../routes/openai-images';
import {
  EstimateAnswer,
  HealthAnswer,
  IMAGE_CONTENT,
  OpenAIImagesAnswer,
  QubridJsonAnswer,
  UsageAnswer,
} from './answers';
import { describeRoute, requestSchema, type HeaderDoc, type RouteDoc } from './registry';

/** The tenant routes (CONTRACT §3) and the unauthenticated ones. */

const usdHeader = { type: 'string', pattern: '^\\d+(\\.\\d{1,9})?$' };

/** What every generation answer carries (CONTRACT §3). */
const GENERATION_HEADERS: Record<string, HeaderDoc> = {
  'X-Request-Id': { description: 'unique per request; also in the logs and the usage ledger', schema: { type: 'string' } },
  'Cache-Status': {
    description:
      'RFC 9211, e.g. `imagegate; hit`, `imagegate; hit; detail=coalesced`, `imagegate; fwd=miss; stored`, `imagegate; fwd=bypass; stored` (no seed), `imagegate; fwd=request; stored` (no-cache), `imagegate; fwd=request` (no-store). For n > 1, the first image.',
    schema: { type: 'string' },
  },
  'Imagegate-Cost-USD': { description: 'what this request was charged (0 on a cache hit); for n > 1 the sum', schema: usdHeader },
  'Imagegate-Budget-Remaining-USD': {
    description: 'the smaller of what the key and its tenant have left in their periods; absent when neither has a budget',
    schema: usdHeader,
  },
  'Imagegate-Origin': { description: "the origin's name, or `cache`", schema: { type: 'string' } },
  'Imagegate-Seed': { description: 'the seed used (of the first image)', schema: { type: 'integer', minimum: 0, maximum: MAX_SEED } },
  'RateLimit-Policy': { description: 'IETF httpapi RateLimit fields draft, e.g. `"rpm";q=60;w=60`', schema: { type: 'string' } },
  RateLimit: { description: 'IETF httpapi RateLimit fields draft, e.g. `"rpm";r=59;t=41`', schema: { type: 'string' } },
  'Idempotent-Replayed': { description: '`true` on a replayed Idempotency-Key answer (then Imagegate-Cost-USD is 0)', schema: { type: 'string', enum: ['true'] } },
};

/** Request headers a generation reads (CONTRACT §6). */
const GENERATION_REQUEST_HEADERS: Record<string, HeaderDoc> = {
  'Cache-Control': {
    description: '`no-cache` skips the cache lookup but stores the result; `no-store` does neither',
    schema: { type: 'string', examples: ['no-cache', 'no-store'] },
  },
  'Idempotency-Key': {
    description:
      'a retry with the same key and body within 24 h gets the stored answer with `Idempotent-Replayed: true` and is not charged again; 409 while the first is running, 422 with a different body',
    schema: { type: 'string', maxLength: 255 },
  },
};

const GENERATION_ERRORS = [
  'budget_exceeded',
  'idempotency_in_progress',
  'idempotency_key_reused',
  'rate_limited',
  'concurrency_limited',
  'origin_error',
  'unavailable',
  'origin_timeout',
] as const;

const QubridBody = requestSchema('QubridGenerationRequest', QubridBodySchema);

export const TENANT_ROUTES: RouteDoc[] = [
  describeRoute({
    method: 'post',
    path: '/image/generation',
    operationId: 'generateImage',
    summary: 'Generate an image (Qubrid-compatible)',
    description:
      "Qubrid's own body, so an existing client switches by changing the URL and key. Answers the image itself, or with `Accept: application/json` a JSON description. Width, height, steps and cfg are checked against the model's limits (SD 3.5 Large: 256–2048 in multiples of 16, steps 1–100, cfg 0–20; defaults 1024×1024, 30 steps, cfg 7.5). Without a seed the gateway draws one and reports it. An unknown field is a 400 naming it.",
    tag: 'generation',
    auth: 'tenant',
    headers: {
      ...GENERATION_REQUEST_HEADERS,
      Accept: { description: '`application/json` for the JSON answer instead of the image bytes', schema: { type: 'string' } },
    },
    body: QubridBody,
    success: [
      {
        status: 200,
        description: 'the image (Content-Type by `output_format`), or its JSON description',
        content: IMAGE_CONTENT,
        json: QubridJsonAnswer,
        headers: GENERATION_HEADERS,
      },
    ],
    errors: [...GENERATION_ERRORS],
  }),
  describeRoute({
    method: 'post',
    path: '/v1/images/generations',
    operationId: 'createImagesOpenAI',
    summary: 'Generate 1–4 images (OpenAI-compatible)',
    description:
      'The official `openai` SDKs work against it with `baseURL = "<gateway>/v1"` and the tenant key as `apiKey`. `n > 1` makes n generations with seeds seed, seed+1, … (drawn consecutively when no seed is given), each priced and cached on its own; the budget for all of them is reserved at once, so a budget that fits only some refuses the whole request with 402 before any origin is called. Headers as for `/image/generation`: costs summed, `Cache-Status` of the first image.',
    tag: 'generation',
    auth: 'tenant',
    headers: GENERATION_REQUEST_HEADERS,
    body: requestSchema('OpenAIImagesRequest', OpenAIImagesBodySchema),
    success: [{ status: 200, description: 'the images, as b64_json or as /v1/images/{id} links', json: OpenAIImagesAnswer, headers: GENERATION_HEADERS }],
    errors: [...GENERATION_ERRORS],
  }),
  describeRoute({
    method: 'post',
    path: '/v1/estimate',
    operationId: 'estimateCost',
    summary: 'What a generation would cost',
    description: 'Same body and checks as `POST /image/generation`; charges nothing, reserves nothing.',
    tag: 'usage',
    auth: 'tenant',
    headers: { 'Cache-Control': GENERATION_REQUEST_HEADERS['Cache-Control'] as HeaderDoc },
    body: QubridBody,
    success: [{ status: 200, description: 'the price and whether it would fit the budget', json: EstimateAnswer }],
  }),
  describeRoute({
    method: 'get',
    path: '/v1/usage',
    operationId: 'getUsage',
    summary: "The caller's key and tenant usage in their current budget periods",
    description:
      '`requests` counts generations that passed auth, rate limits and budget (cache hits included); refusals are not usage.',
    tag: 'usage',
    auth: 'tenant',
    success: [{ status: 200, description: 'usage of the key and of its tenant', json: UsageAnswer }],
  }),
  describeRoute({
    method: 'get',
    path: '/v1/images/{id}',
    operationId: 'getImage',
    summary: 'An image this tenant generated',
    description: "404 for an id that is not the caller tenant's.",
    tag: 'generation',
    auth: 'tenant',
    pathParams: { id: 'the id from a generation answer (`id`, or the end of `url`)' },
    success: [{ status: 200, description: 'the image bytes', content: IMAGE_CONTENT }],
    errors: ['not_found'],
  }),
  describeRoute({
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    summary: 'Liveness',
    tag: 'meta',
    auth: 'none',
    success: [{ status: 200, description: 'the Worker is up', json: HealthAnswer }],
  }),
];
