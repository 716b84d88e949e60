import { z } from '@hono/zod-openapi';
import { MAX_PROMPT_CHARS, MAX_SEED, OUTPUT_FORMATS, QubridBodySchema, charCount, intFrom, visiblePrompt } from '../domain/generation-request';
import { ALERT_THRESHOLDS_RULE, isAlertThresholds } from '../domain/alert-thresholds';
import { BUDGET_PERIODS } from '../domain/budget-period';
import { parseUsd } from '../domain/money';
import { checkTags, MAX_TAGS } from '../domain/tags';
import { CACHE_SCOPES } from '../domain/tenants';
import { ROLES } from '../domain/roles';

/**
 * What a request may carry, as the zod schemas the routes validate with and the OpenAPI document
 * renders (`.openapi('Name')` makes a `components.schemas` entry). Both the route declarations and
 * `src/openapi/` import them from here, so neither depends on the other.
 */

/** D1 stores nano-USD as INTEGER and hands it back as a JS number, so an amount must stay a safe integer. */
const MAX_STORED_NANO = BigInt(Number.MAX_SAFE_INTEGER);

/** A USD amount as a decimal string ("25.10"), exact to the nano-USD; never a binary float. */
export const UsdString = z.string().refine((s) => {
  const nano = parseUsd(s);
  return nano !== undefined && nano <= MAX_STORED_NANO;
}, 'a non-negative decimal string of USD with at most 9 decimals and at most 9007199.254740991, e.g. "25.10"');

export const BudgetPeriod = z.enum(BUDGET_PERIODS);
const PositiveInt = z.int().min(1).max(1_000_000);

/** ISO 8601 UTC time, e.g. 2026-12-31T23:59:59Z. */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** A real calendar time: Date.parse alone would roll 2026-02-30 over to March and accept 24:00. */
function isIsoTime(text: string): boolean {
  const m = ISO_TIME.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second = 0, offH = 0, offM = 0] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)));
  if (year === undefined || month === undefined || day === undefined || hour === undefined || minute === undefined) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && offH <= 23 && offM <= 59;
}

const IsoTime = z.string().refine(isIsoTime, 'an ISO 8601 time such as 2026-12-31T23:59:59Z');

/**
 * Budget alert thresholds (docs/admin.md): checked as one value, so a 400 names
 * `alert_thresholds` itself rather than an element of it. A percent given twice counts once.
 */
const AlertThresholds = z
  .custom<number[]>(isAlertThresholds, { message: ALERT_THRESHOLDS_RULE })
  .openapi({
    type: 'array',
    items: { type: 'integer', minimum: 1, maximum: 100 },
    maxItems: 10,
    description: 'percents of the budget at which a budget.threshold event fires, once per period (default [50, 80, 100]; [] for none)',
    example: [50, 80, 100],
  });

const limitFields = {
  budget_usd: UsdString.nullable().optional(),
  budget_period: BudgetPeriod.optional(),
  rate_limit_rpm: PositiveInt.nullable().optional(),
  max_concurrent: PositiveInt.nullable().optional(),
  alert_thresholds: AlertThresholds.optional(),
};

const tenantFields = {
  name: z.string().trim().min(1).max(200),
  ...limitFields,
  cache_scope: z.enum(CACHE_SCOPES).optional(),
  cache_ttl_days: z.int().min(1).max(3650).optional(),
  allowed_models: z.array(z.string().min(1).max(200)).max(100).nullable().optional(),
  disabled: z.boolean().optional(),
};

export const TenantCreateSchema = z.strictObject(tenantFields).openapi('TenantCreate');
export const TenantPatchSchema = z.strictObject({ ...tenantFields, name: tenantFields.name.optional() }).openapi('TenantPatch');

/** A key's `default_tags` (docs/money.md): the same rules as the `Imagegate-Tags` header. */
const DefaultTags = z
  .record(z.string(), z.string())
  .superRefine((tags, ctx) => {
    const problem = checkTags(tags, 'default_tags');
    if (problem) ctx.addIssue({ code: 'custom', message: problem.message });
  })
  .openapi({
    description: `up to ${MAX_TAGS} tags for every generation the key makes: names [a-z0-9_.-]{1,32}, values 1–64 printable characters without ',' or '='; a request's own tags win per name`,
    example: { project: 'checkout' },
  });

const keyFields = {
  name: z.string().trim().min(1).max(200),
  ...limitFields,
  expires_at: IsoTime.nullable().optional(),
  default_tags: DefaultTags.nullable().optional(),
};
export const KeyCreateSchema = z.strictObject(keyFields).openapi('KeyCreate');
export const KeyPatchSchema = z
  .strictObject({ ...keyFields, name: keyFields.name.optional(), disabled: z.boolean().optional() })
  .openapi('KeyPatch');

export type TenantInput = z.infer<typeof TenantPatchSchema>;
export type KeyInput = z.infer<typeof KeyPatchSchema>;

/** Price rows and request limits per model (docs/money.md). */
const MAX_SIDE = 16_384;
const Side = z
  .strictObject({ min: z.int().min(1).max(MAX_SIDE), max: z.int().min(1).max(MAX_SIDE), multiple_of: z.int().min(1).max(MAX_SIDE) })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['min'] });
const Steps = z
  .strictObject({ min: z.int().min(1).max(10_000), max: z.int().min(1).max(10_000) })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['min'] });
const Cfg = z
  .strictObject({ min: z.number().min(0).max(1_000), max: z.number().min(0).max(1_000) })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['min'] });

/** PUT replaces the whole row, so every field is required (`model` may repeat the path's). */
export const ModelPutSchema = z
  .strictObject({
  model: z.string().optional(),
  price_per_megapixel_usd: UsdString,
  included_steps: z.int().min(0).max(10_000),
  price_per_extra_step_usd: UsdString,
  width: Side,
  height: Side,
  steps: Steps,
  cfg: Cfg,
  effective_at: IsoTime.optional().describe('when this price takes effect (ISO 8601 UTC); now when absent, may be in the future'),
  })
  .openapi('ModelPut');


/** `GET /admin/usage` (docs/admin.md). */
/** A calendar date `YYYY-MM-DD` (UTC) that exists: 2026-02-30 is refused rather than rolled over. */
const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date such as 2026-11-26')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'not a calendar date');

const UsageGroupBy = z
  .union([z.enum(['day', 'key', 'model', 'tenant']), z.string().regex(/^tag:[a-z0-9_.-]{1,32}$/, 'tag:<name>, the name [a-z0-9_.-]{1,32}')])
  .openapi({ description: 'day, key, model, tenant, or `tag:<name>` (generations without that tag form the group "")', example: 'tag:project' });
/** `tag=<name>:<value>`, repeatable; checked by the route, whose 400 names `tag`. */
const TagFilters = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .openapi({ description: 'repeatable `<name>:<value>`; a generation counts when it carries every one', example: 'project:checkout' });

const usageQueryFields = {
  key_id: z.string().min(1).max(200).optional(),
  from: IsoDate.optional(),
  to: IsoDate.optional(),
  tag: TagFilters,
  format: z.enum(['json', 'csv']).default('json'),
};
export const UsageQuerySchema = z.strictObject({
  tenant_id: z.string().min(1).max(200).optional(),
  ...usageQueryFields,
  group_by: UsageGroupBy.default('day'),
});
export type UsageQuery = z.infer<typeof UsageQuerySchema>;

/** `GET /v1/usage`: without `group_by` (nor `tag`, `from`, `to`, `format=csv`) the budget view; with any, the tenant's own report. */
export const OwnUsageQuerySchema = z.strictObject({
  ...usageQueryFields,
  format: z.enum(['json', 'csv']).optional(),
  group_by: UsageGroupBy.optional(),
});


const MAX_IMAGES_PER_REQUEST = 4;

// characters as a person counts them (code points), as the Qubrid route counts them
const withinPromptLimit = (s: string) => charCount(s) <= MAX_PROMPT_CHARS;
const PROMPT_LIMIT = `must be at most ${MAX_PROMPT_CHARS} characters`;

/**
 * OpenAI's own fields that no origin of ours uses (docs/generation.md): accepted with OpenAI's
 * types, so an SDK call written for OpenAI works unchanged, then ignored and named in the
 * `Imagegate-Ignored-Fields` header. They do not change the image, so they are not part of the
 * cache key; they are part of the Idempotency-Key's request hash, since they are part of the body.
 */
export const OPENAI_IGNORED_FIELDS = ['quality', 'style', 'background', 'moderation', 'output_compression'] as const;

/**
 * OpenAI's `images.generate` body (docs/generation.md) plus the extensions an SD model needs. Strict, like
 * the Qubrid body: an unknown field (a misspelt `step`) is a 400 naming it rather than an image made
 * with a default nobody asked for. OpenAI's own fields also accept `null` for "default", as OpenAI's
 * API does.
 */
export const OpenAIImagesBodySchema = z
  .strictObject({
    model: z.string().min(1).max(200).nullish().describe('default stabilityai/stable-diffusion-3.5-large; must be a known model'),
    prompt: z.string().min(1).refine(withinPromptLimit, PROMPT_LIMIT).superRefine(visiblePrompt('prompt')).describe(`1 to ${MAX_PROMPT_CHARS} characters`),
    n: intFrom(1, MAX_IMAGES_PER_REQUEST).nullish().describe('how many images (default 1), with seeds seed, seed+1, …'),
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
    seed: intFrom(0, MAX_SEED).nullish().describe('the first image\'s seed; without one the gateway draws it (and the cache is not looked up)'),
    quality: z.enum(['standard', 'hd', 'low', 'medium', 'high', 'auto']).nullish().describe("OpenAI's; accepted and ignored"),
    style: z.enum(['vivid', 'natural']).nullish().describe("OpenAI's; accepted and ignored"),
    background: z.enum(['transparent', 'opaque', 'auto']).nullish().describe("OpenAI's; accepted and ignored"),
    moderation: z.enum(['low', 'auto']).nullish().describe("OpenAI's; accepted and ignored"),
    output_compression: intFrom(0, 100).nullish().describe("OpenAI's (0–100); accepted and ignored"),
  })
  .openapi('OpenAIImagesRequest', { examples: [{ prompt: 'a lighthouse on a cliff at dawn, oil painting', negative_prompt: 'blurry', size: '1024x1024', n: 2, seed: 42 }] });
export type OpenAIImagesBody = z.infer<typeof OpenAIImagesBodySchema>;


/** The Qubrid body of `POST /image/generation` and `POST /v1/estimate` (docs/generation.md). */
export const QubridBody = QubridBodySchema.openapi('QubridGenerationRequest');

/** A path's `{id}`, described. */
export const IdParam = (description: string) => z.object({ id: z.string().openapi({ description }) });

/** A request header the caller may leave out, described in the document. */
function optionalHeader(description: string, more: { examples?: string[]; maxLength?: number } = {}) {
  return z.string().optional().openapi({ param: { in: 'header' }, description, ...more });
}

/** `Cache-Control` on a generation or an estimate (docs/cache.md). */
const CacheControl = optionalHeader('`no-cache` skips the cache lookup but stores the result; `no-store` does neither', {
  examples: ['no-cache', 'no-store'],
});

/**
 * `Idempotency-Key` (IETF httpapi draft; docs/cache.md). Left a plain string here: the key's own
 * rule (1–255 printable ASCII, or an sf-string) is checked by src/routes/idempotency.ts, whose 400
 * names the header.
 */
const IdempotencyKey = optionalHeader(
  'a retry with the same key and body within 24 h gets the stored answer with `Idempotent-Replayed: true` and is not charged again; 409 while the first is running, 422 with a different body',
  { maxLength: 255 },
);

/** `Imagegate-Tags` (docs/money.md); checked by src/domain/tags.ts, whose 400 names the header. */
const ImagegateTags = optionalHeader(
  "up to 8 `name=value` pairs, comma-separated: names [a-z0-9_.-]{1,32}, values 1–64 printable characters without ',' or '='. Stored with the ledger rows; the key's `default_tags` fill names left out",
  { examples: ['project=checkout, feature=thumbnails'] },
);

/** `Imagegate-Max-Cost-USD` (docs/money.md); parsed by src/domain/pricing.ts, whose 400 names the header. */
const MaxCost = optionalHeader('the most this request may cost (USD decimal): above it, 402 `max_cost_exceeded` before anything is reserved or sent', {
  examples: ['0.01'],
});

const attribution = { 'imagegate-tags': ImagegateTags, 'imagegate-max-cost-usd': MaxCost };

/** Hono reads request headers lower-case, so the keys (and the document's parameter names) are. */
export const EstimateHeaders = z.object({ 'cache-control': CacheControl, ...attribution });
export const OpenAIGenerationHeaders = z.object({ 'cache-control': CacheControl, 'idempotency-key': IdempotencyKey, ...attribution });
export const QubridGenerationHeaders = OpenAIGenerationHeaders.extend({
  accept: optionalHeader('`application/json` for the JSON answer instead of the image bytes'),
});

/** `POST /admin/keys/{id}/rotate` and `POST /admin/admins/{id}/rotate` (docs/admin.md); the body is optional. */
export const RotateSchema = z
  .strictObject({
    grace_seconds: z.int().min(0).max(604_800).optional().describe('how long the old secret keeps working, 0 (the default) to 7 days'),
  })
  .openapi('Rotate');

/** `POST /admin/admins` (docs/admin.md). */
export const AdminCreateSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    role: z.enum(ROLES),
    tenant_id: z.string().min(1).max(200).optional().describe("required for 'tenant_admin', refused for every other role"),
  })
  .openapi('AdminCreate');

/** `GET /admin/audit` (docs/admin.md). `from`/`to`: a date (`to` takes in its whole day) or an ISO 8601 time with a zone. */
export const AuditQuerySchema = z.strictObject({
  tenant_id: z.string().min(1).max(200).optional(),
  target_id: z.string().min(1).max(200).optional(),
  actor_id: z.string().min(1).max(200).optional(),
  action: z.string().min(1).max(100).optional(),
  from: z.string().min(1).max(40).optional(),
  to: z.string().min(1).max(40).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional().describe('1–200, default 50'),
  cursor: z.string().min(1).max(300).optional().describe('the `next_cursor` of the page before'),
});

/** `POST /admin/webhooks` (docs/webhooks.md). The URL rule and the event types are checked by the route. */
export const WebhookCreateSchema = z
  .strictObject({
    url: z.string().min(1).max(2048).describe('https:// to a public host (http://127.0.0.1 and http://localhost only where WEBHOOK_ALLOW_LOOPBACK=true)'),
    events: z.array(z.string().min(1).max(100)).min(1).max(50).describe("event types, e.g. ['budget.threshold', 'budget.refused'], or ['*'] for every type"),
    tenant_id: z.string().min(1).max(200).nullable().optional().describe("the one tenant whose events it receives; null or left out: every tenant's (a tenant admin's endpoint is always its own tenant's)"),
    description: z.string().trim().max(500).nullable().optional(),
  })
  .openapi('WebhookCreate');

/** `GET /admin/webhooks` (docs/webhooks.md). */
export const WebhookListQuerySchema = z.strictObject({
  tenant_id: z.string().min(1).max(200).optional().describe("only this tenant's endpoints (a tenant admin always sees only its own)"),
});

/** `GET /admin/webhooks/{id}/deliveries` (docs/webhooks.md). */
export const DeliveriesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional().describe('1–200, default 50'),
});
