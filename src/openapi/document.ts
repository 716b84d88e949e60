import { z } from 'zod';
import { ERROR_CODES, errorBody, type ErrorCode } from '../errors';
import { ErrorAnswer } from './answers';
import { answerSchemas, errorsOf, requestSchemas, type Auth, type HeaderDoc, type RouteDoc } from './registry';

/** Builds the OpenAPI 3.1 document from route descriptions; JSON Schema 2020-12 is 3.1's own dialect. */

type Json = Record<string, unknown>;

/** When each error happens (CONTRACT §2), for the answers' descriptions. */
const ERROR_WHEN: Record<ErrorCode, string> = {
  invalid_request: 'malformed JSON, unknown or wrong-typed field, value out of range (`param` names the field)',
  unauthorized: 'missing, unknown, revoked or expired key; on /admin/*, anything but the admin token',
  budget_exceeded: "the request's cost does not fit the key's or the tenant's remaining budget",
  forbidden: "disabled key or tenant, or a model not in the tenant's `allowed_models`",
  not_found: "unknown route, or an object that is not the caller's",
  idempotency_in_progress: 'same `Idempotency-Key` while the first request is still running',
  payload_too_large: 'body over 64 KiB',
  unsupported_media_type: 'body not `application/json`',
  idempotency_key_reused: 'same `Idempotency-Key` with a different body',
  rate_limited: 'over the requests-per-minute limit; carries `Retry-After`',
  concurrency_limited: 'over the in-flight limit; carries `Retry-After`',
  internal: 'a bug; the message never leaks a stack trace or a secret',
  origin_error: 'every eligible origin failed or returned something that is not an image (with `Retry-After` when all are cooling down)',
  admin_disabled: 'an admin route while `ADMIN_TOKEN` is unset',
  unavailable: 'a dependency of the gateway (e.g. the rate limiter) could not be reached',
  origin_timeout: 'the origin did not answer within its timeout',
};

const RETRY_AFTER: HeaderDoc = { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } };

const SECURITY: Record<Auth, Json[]> = {
  tenant: [{ tenantKey: [] }, { tenantApiKey: [] }],
  admin: [{ adminToken: [] }],
  none: [],
};

const SECURITY_SCHEMES = {
  tenantKey: { type: 'http', scheme: 'bearer', description: 'a tenant key, `igk_` + 32 or more base62 characters' },
  tenantApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'the same tenant key, for clients that cannot send a bearer token' },
  adminToken: { type: 'http', scheme: 'bearer', description: 'the `ADMIN_TOKEN` secret; /admin/* only' },
};

const TAGS = [
  { name: 'generation', description: 'Generating images, and reading them back' },
  { name: 'usage', description: "Prices and the caller's own usage" },
  { name: 'admin: tenants', description: 'Tenants (teams), their budgets, limits and models' },
  { name: 'admin: keys', description: "Tenant keys; a key's plaintext is shown once" },
  { name: 'admin: models', description: 'Price rows and request limits per model' },
  { name: 'admin: usage', description: 'The usage ledger' },
  { name: 'meta', description: 'Health, this document and its viewer' },
];

/**
 * Descriptions for schemas whose zod carries none (the Qubrid body mirrors Qubrid's own API); the
 * limits live in the model's price row, not in the schema. A note for a property the schema no
 * longer has is an error, so a renamed field cannot keep a stale description.
 */
const NOTES: Record<string, { examples?: unknown[]; properties: Record<string, string> }> = {
  QubridGenerationRequest: {
    examples: [
      {
        model: 'stabilityai/stable-diffusion-3.5-large',
        positive_prompt: 'a lighthouse on a cliff at dawn, oil painting',
        negative_prompt: 'blurry',
        width: 1024,
        height: 1024,
        steps: 30,
        cfg: 7.5,
        seed: 42,
        output_format: 'png',
      },
    ],
    properties: {
      model: 'default stabilityai/stable-diffusion-3.5-large; must be a known model',
      positive_prompt: 'required, 1–10,000 characters (or its alias `prompt`)',
      prompt: 'alias of positive_prompt',
      width: "default 1024; within the model's limits (SD 3.5 Large: 256–2048, multiples of 16)",
      height: "default 1024; within the model's limits (SD 3.5 Large: 256–2048, multiples of 16)",
      steps: 'default 30 (SD 3.5 Large: 1–100; each step above the included 30 costs extra)',
      cfg: 'default 7.5 (SD 3.5 Large: 0–20)',
      seed: 'without one the gateway draws one and reports it in Imagegate-Seed; only a request with a seed is looked up in the cache',
      output_format: 'default png',
    },
  },
};

function annotated(id: string, schema: Json): Json {
  const note = NOTES[id];
  if (!note) return schema;
  const properties = { ...(schema.properties as Record<string, Json>) };
  for (const [name, description] of Object.entries(note.properties)) {
    const property = properties[name];
    if (!property) throw new Error(`a note for ${id}.${name}, which the schema does not have`);
    properties[name] = { description, ...property };
  }
  return { ...schema, properties, ...(note.examples ? { examples: note.examples } : {}) };
}

function withoutDialect(schema: Json): Json {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

function componentSchemas(registry: typeof requestSchemas, io: 'input' | 'output'): Record<string, Json> {
  const { schemas } = z.toJSONSchema(registry, { io, unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, annotated(id, withoutDialect(s as Json))]));
}

/** A `$ref` for a named schema, else the schema inline. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Json {
  const registry = io === 'input' ? requestSchemas : answerSchemas;
  const named = registry.get(schema);
  if (named) return { $ref: `#/components/schemas/${named.id}` };
  return withoutDialect(z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json);
}

function headersOf(headers: Record<string, HeaderDoc>): Json {
  return Object.fromEntries(
    Object.entries(headers).map(([name, h]) => [name, { description: h.description, schema: h.schema ?? { type: 'string' } }]),
  );
}

function parametersOf(route: RouteDoc): Json[] {
  const path = Object.entries(route.pathParams ?? {}).map(([name, description]) => ({
    name,
    in: 'path',
    required: true,
    description,
    schema: { type: 'string' },
  }));
  const query = Object.entries(route.query?.shape ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: !(schema as z.ZodType).safeParse(undefined).success,
    schema: schemaOf(schema as z.ZodType, 'input'),
  }));
  const headers = Object.entries(route.headers ?? {}).map(([name, h]) => ({
    name,
    in: 'header',
    required: h.required ?? false,
    description: h.description,
    schema: h.schema ?? { type: 'string' },
  }));
  return [...path, ...query, ...headers];
}

function errorResponses(codes: ErrorCode[]): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, Json> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    const retry = group.some((c) => c === 'rate_limited' || c === 'concurrency_limited' || c === 'origin_error');
    responses[String(status)] = {
      description: group.map((c) => `\`${c}\`: ${ERROR_WHEN[c]}`).join('. '),
      ...(retry ? { headers: { 'Retry-After': RETRY_AFTER } } : {}),
      content: {
        'application/json': {
          schema: schemaOf(ErrorAnswer, 'output'),
          examples: Object.fromEntries(
            group.map((c) => [c, { value: errorBody(c, ERROR_WHEN[c], 'req_0123456789abcdefghijkl', c === 'invalid_request' ? 'width' : null) }]),
          ),
        },
      },
    };
  }
  return responses;
}

function operationOf(route: RouteDoc): Json {
  const responses: Record<string, Json> = {};
  for (const success of route.success) {
    const content: Json = { ...(success.content ?? {}) };
    for (const [type, schema] of Object.entries(content)) content[type] = { schema };
    if (success.json) content['application/json'] = { schema: schemaOf(success.json, 'output') };
    responses[String(success.status)] = {
      description: success.description,
      ...(success.headers ? { headers: headersOf(success.headers) } : {}),
      ...(Object.keys(content).length > 0 ? { content } : {}),
    };
  }
  Object.assign(responses, errorResponses(errorsOf(route)));
  const parameters = parametersOf(route);
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: SECURITY[route.auth],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } } }
      : {}),
    responses,
  };
}

export interface DocumentInfo {
  version: string;
}

export function buildDocument(routes: RouteDoc[], info: DocumentInfo): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const item = (paths[route.path] ??= {});
    if (item[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is described twice`);
    item[route.method] = operationOf(route);
  }
  const requests = componentSchemas(requestSchemas, 'input');
  const answers = componentSchemas(answerSchemas, 'output');
  const clash = Object.keys(requests).find((id) => id in answers);
  if (clash) throw new Error(`schema name '${clash}' is used for a request and an answer`);
  return {
    openapi: '3.1.0',
    info: {
      title: 'imagegate',
      version: info.version,
      description:
        'A gateway in front of paid text-to-image APIs: tenant keys, exact prices, budgets, rate limits, a cache of identical-seed results. Amounts are decimal strings of USD, exact to the nano-USD. Every error is `{"error": {code, type, message, param, request_id}}`.',
    },
    tags: TAGS,
    paths,
    components: { schemas: { ...requests, ...answers }, securitySchemes: SECURITY_SCHEMES },
  };
}
