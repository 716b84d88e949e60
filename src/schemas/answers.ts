import { z } from '@hono/zod-openapi';
import { BUDGET_PERIODS } from '../domain/budget-period';
import { CACHE_WORDS } from '../domain/cache-key';
import { MAX_SEED, OUTPUT_FORMATS } from '../domain/generation-request';
import { ROLES } from '../domain/roles';
import { ERROR_CODES, type ErrorCode } from '../errors';

/** Names an answer schema: it becomes `components.schemas[id]` in the document. */
function answerSchema<T extends z.ZodType>(id: string, schema: T): T {
  return schema.openapi(id) as T;
}

/** `base`'s fields and `more`, named `id`: an object's answer with what only some answers carry (a secret shown once, its keys). */
function answerWith<S extends z.ZodRawShape, M extends z.ZodRawShape>(id: string, base: z.ZodObject<S>, more: M) {
  return answerSchema(id, z.strictObject({ ...base.shape, ...more }));
}

/** A list of `item`s under `data`, named `id`. */
function listAnswer<T extends z.ZodType>(id: string, item: T) {
  return answerSchema(id, z.strictObject({ data: z.array(item) }));
}

/**
 * The JSON answers as schemas, for the document. test/openapi checks real answers against them
 * (strictly, so a field added to an answer and not here fails a test) and their types against the
 * functions that build the answers.
 */

const Usd = z.string().regex(/^\d+(\.\d{1,9})?$/).describe('USD as a decimal string, exact to the nano-USD, e.g. "0.001992295"');
const Iso = z.string().describe('ISO 8601 UTC time');
const Period = z.enum(BUDGET_PERIODS);
const CacheWord = z.enum(CACHE_WORDS);

const errorCodes = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

export const ErrorAnswer = answerSchema(
  'Error',
  z.strictObject({
    error: z.strictObject({
      code: z.enum(errorCodes),
      type: z.string().describe("OpenAI-style error type, e.g. 'invalid_request_error'"),
      message: z.string(),
      param: z.string().nullable().describe('the offending field, when one is to blame'),
      request_id: z.string(),
    }),
  }),
);

export const HealthAnswer = answerSchema('Health', z.strictObject({ ok: z.literal(true) }));

export const QubridJsonAnswer = answerSchema(
  'GenerationJson',
  z.strictObject({
    id: z.string(),
    created: z.int(),
    model: z.string(),
    seed: z.int().min(0).max(MAX_SEED),
    width: z.int(),
    height: z.int(),
    output_format: z.enum(OUTPUT_FORMATS),
    cost_usd: Usd,
    cache: CacheWord,
    image_base64: z.string(),
    url: z.string().describe('absolute link to GET /v1/images/{id}'),
  }),
);

/** The answer, as the OpenAI SDKs read it (`ImagesResponse`), with each image's seed and cache outcome. */
export const OpenAIImagesAnswer = answerSchema(
  'ImagesResponse',
  z.strictObject({
    created: z.int(),
    data: z.array(
      z.strictObject({
        b64_json: z.string().optional(),
        url: z.string().optional(),
        revised_prompt: z.null(),
        seed: z.int(),
        cache: CacheWord,
      }),
    ),
  }),
);

export const EstimateAnswer = answerSchema(
  'Estimate',
  z.strictObject({
    cost_usd: Usd,
    megapixels: z.number(),
    extra_steps: z.int(),
    cacheable: z.boolean().describe('an explicit seed and no Cache-Control against it: a repeat can be a free hit'),
    would_fit_budget: z.boolean(),
    within_max_cost: z.boolean().nullable().describe('whether the cost is within `Imagegate-Max-Cost-USD`; null without that header'),
  }),
);

const BudgetUsage = z.strictObject({
  id: z.string(),
  name: z.string(),
  spent_usd: Usd,
  reserved_usd: Usd,
  budget_usd: Usd.nullable().describe('null = no budget'),
  remaining_usd: Usd.nullable().describe('null = unlimited'),
  period: Period,
  period_resets_at: Iso.nullable().describe("null for period 'none'"),
  requests: z.int(),
  cache_hits: z.int(),
  coalesced: z.int().describe('generations served the image of an identical request in flight'),
  saved_usd: Usd.describe('what the hits and merged generations would have cost at the origin'),
});
export const UsageAnswer = answerSchema('Usage', z.strictObject({ key: BudgetUsage, tenant: BudgetUsage }));

/** An object's spend in its current budget period (docs/admin.md). */
const SpendAnswer = z.strictObject({
  period: Period,
  period_resets_at: Iso.nullable().describe("null for period 'none'"),
  spent_usd: Usd,
  reserved_usd: Usd,
  remaining_usd: Usd.nullable().describe('null = no budget'),
});

const limits = {
  budget_usd: Usd.nullable(),
  budget_period: Period,
  rate_limit_rpm: z.int().nullable(),
  max_concurrent: z.int().nullable(),
  alert_thresholds: z.array(z.int().min(1).max(100)).describe('percents of the budget at which a budget.threshold event fires, smallest first'),
};

export const TenantAnswer = answerSchema(
  'Tenant',
  z.strictObject({
    id: z.string(),
    name: z.string(),
    ...limits,
    cache_scope: z.enum(['private', 'shared']),
    cache_ttl_days: z.int(),
    allowed_models: z.array(z.string()).nullable().describe('null = every model'),
    disabled: z.boolean(),
    created_at: Iso,
    updated_at: Iso,
    usage: SpendAnswer,
  }),
);

export const KeyAnswer = answerSchema(
  'Key',
  z.strictObject({
    id: z.string(),
    tenant_id: z.string(),
    name: z.string(),
    prefix: z.string().describe('the first characters of the key, to recognise it'),
    ...limits,
    expires_at: Iso.nullable(),
    disabled: z.boolean(),
    revoked: z.boolean(),
    revoked_at: Iso.nullable(),
    default_tags: z.record(z.string(), z.string()).describe('tags for every generation the key makes; a request\'s own win per name'),
    created_at: Iso,
    updated_at: Iso,
    usage: SpendAnswer,
  }),
);

export const NewKeyAnswer = answerWith('KeyWithSecret', KeyAnswer, { key: z.string().describe('the plaintext key (igk_…): shown this once') });
export const RotatedKeyAnswer = answerWith('RotatedKey', NewKeyAnswer, {
  previous_expires_at: Iso.nullable().describe('until when the previous key keeps working; null: it stopped at once'),
});
export const TenantWithKeysAnswer = answerWith('TenantWithKeys', TenantAnswer, { keys: z.array(KeyAnswer) });
export const TenantListAnswer = listAnswer('TenantList', TenantAnswer);

const Side = z.strictObject({ min: z.int(), max: z.int(), multiple_of: z.int() });
const Range = z.strictObject({ min: z.number(), max: z.number() });
export const ModelAnswer = answerSchema(
  'Model',
  z.strictObject({
    model: z.string(),
    price_per_megapixel_usd: Usd,
    included_steps: z.int(),
    price_per_extra_step_usd: Usd,
    width: Side,
    height: Side,
    steps: Range,
    cfg: Range,
  }),
);
export const PriceVersionsAnswer = answerSchema(
  'ModelPriceVersions',
  z.strictObject({
    versions: z.array(
      z.strictObject({
        version: z.int().describe('1, 2, …: the order the versions were added in'),
        effective_at: Iso.describe('in force from this time until the next later effective_at'),
        price_per_megapixel_usd: Usd,
        included_steps: z.int(),
        price_per_extra_step_usd: Usd,
      }),
    ),
  }),
);
export const ModelListAnswer = listAnswer('ModelList', ModelAnswer);

const UsageTotals = {
  requests: z.int(),
  cache_hits: z.int(),
  failed: z.int(),
  cost_usd: Usd,
  coalesced: z.int().describe('generations served the image of an identical request in flight'),
  saved_usd: Usd.describe('what the hits and merged generations would have cost at the origin'),
};
export const UsageReportAnswer = answerSchema(
  'UsageReport',
  z.strictObject({
    rows: z.array(z.strictObject({ group: z.string().describe('the day, key id, model, tenant id, or tag value ("" for none)'), ...UsageTotals })),
    total: z.strictObject(UsageTotals),
  }),
);

const Role = z.enum(ROLES);
export const AdminAnswer = answerSchema(
  'Admin',
  z.strictObject({
    id: z.string(),
    name: z.string(),
    role: Role,
    tenant_id: z.string().nullable().describe("the tenant a 'tenant_admin' acts for; null for every other role"),
    prefix: z.string().describe('the first characters of the token, to recognise it'),
    created_at: Iso,
    updated_at: Iso,
    revoked_at: Iso.nullable(),
    previous_expires_at: Iso.nullable().describe('until when the token before the last rotation still works'),
  }),
);
export const NewAdminAnswer = answerWith('AdminWithToken', AdminAnswer, { token: z.string().describe('the token (iga_…): shown this once') });
export const AdminListAnswer = listAnswer('AdminList', AdminAnswer);

const Fields = z.record(z.string(), z.unknown()).nullable();
export const AuditEntryAnswer = answerSchema(
  'AuditEntry',
  z.strictObject({
    id: z.string(),
    at: Iso,
    actor: z.strictObject({ type: z.enum(['admin_token', 'admin']), id: z.string(), name: z.string(), role: Role }),
    action: z.string().describe('noun.verb: tenant.create, key.rotate, model.price_set, admin.revoke, …'),
    target: z.strictObject({ type: z.string(), id: z.string() }),
    tenant_id: z.string().nullable(),
    before: Fields.describe('the changed fields before the change; null on create'),
    after: Fields.describe('the changed fields after the change; null on delete'),
    request_id: z.string(),
  }),
);
export const AuditPageAnswer = answerSchema(
  'AuditPage',
  z.strictObject({ entries: z.array(AuditEntryAnswer).describe('newest first'), next_cursor: z.string().nullable() }),
);

export const WebhookAnswer = answerSchema(
  'Webhook',
  z.strictObject({
    id: z.string().describe('wh_…'),
    url: z.string(),
    events: z.array(z.string()).describe("event types, or ['*']"),
    tenant_id: z.string().nullable().describe("the tenant whose events it receives; null: every tenant's"),
    description: z.string().nullable(),
    created_at: Iso,
  }),
);
export const NewWebhookAnswer = answerWith('WebhookWithSecret', WebhookAnswer, { secret: z.string().describe('whsec_…: signs every delivery; shown this once') });
export const WebhookListAnswer = listAnswer('WebhookList', WebhookAnswer);
export const WebhookTestAnswer = answerSchema(
  'WebhookTest',
  z.strictObject({ event_id: z.string().describe('the webhook.test event: its `webhook-id` header') }),
);
export const WebhookDeliveriesAnswer = answerSchema(
  'WebhookDeliveries',
  z.strictObject({
    deliveries: z
      .array(
        z.strictObject({
          event_id: z.string(),
          type: z.string(),
          attempt: z.int().describe('1 for the first attempt'),
          at: Iso,
          response_status: z.int().nullable().describe("the receiver's HTTP status; null when it did not answer"),
          ok: z.boolean(),
          next_attempt_at: Iso.nullable().describe('when it is tried again; null once delivered, or failed for good after the last attempt'),
        }),
      )
      .describe('newest first'),
  }),
);
