import { createRoute, type OpenAPIHono, type RouteConfig, type z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { MAX_SEED } from '../domain/generation-request';
import { rolesFor } from '../domain/roles';
import type { AppEnv } from '../env';
import { ERROR_CODES, errorBody, type ErrorCode } from '../errors';
import { jsonBody as readJsonBody, optionalJsonBody } from '../middleware/json-body';
import { tenantAuth } from '../middleware/tenant-auth';
import { ErrorAnswer } from '../schemas/answers';

/**
 * The parts of a route declaration (`createRoute` in src/routes/) that every route shares: who may
 * call it, the errors its auth, body and query bring by themselves, and the error envelope each
 * status answers with. A route lists only the errors of its own.
 */
export type Auth = 'tenant' | 'admin' | 'none';
type Json = Record<string, unknown>;
type ResponseConfig = Exclude<RouteConfig['responses'][string], { $ref: string }>;

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  tenant: [{ tenantKey: [] }, { tenantApiKey: [] }],
  admin: [{ adminToken: [] }],
  none: [],
};

export const SECURITY_SCHEMES = {
  tenantKey: { type: 'http', scheme: 'bearer', description: 'a tenant key, `igk_` + 32 or more base62 characters' },
  tenantApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'the same tenant key, for clients that cannot send a bearer token' },
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: "the `ADMIN_TOKEN` secret (the owner) or an admin principal's `iga_` token; /admin/* only. Each route says which roles may call it",
  },
} as const;

/** When each error happens (docs/errors.md), for the answers' descriptions. */
const ERROR_WHEN: Record<ErrorCode, string> = {
  invalid_request: 'malformed JSON, unknown or wrong-typed field, value out of range (`param` names the field)',
  unauthorized: 'missing, unknown, revoked or expired key (or a rotated one past its grace); on /admin/*, anything but the admin token or a live admin token',
  budget_exceeded: "the request's cost does not fit the key's or the tenant's remaining budget",
  max_cost_exceeded: "the request's cost is above its `Imagegate-Max-Cost-USD` (both amounts in the message); nothing reserved or sent",
  forbidden: "disabled key or tenant, or a model not in the tenant's `allowed_models`; on /admin/*, a role the route does not allow",
  not_found: "unknown route, or an object that is not the caller's (a tenant admin's view of another tenant's)",
  method_not_allowed: 'a known path asked with another method; carries `Allow`',
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

const BODY_ERRORS: ErrorCode[] = ['invalid_request', 'payload_too_large', 'unsupported_media_type'];
const AUTH_ERRORS: Record<Auth, ErrorCode[]> = {
  tenant: ['unauthorized', 'forbidden'],
  admin: ['unauthorized', 'forbidden', 'admin_disabled'],
  none: [],
};

const RETRY_AFTER = { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } } as const;

export interface ErrorsOf {
  auth: Auth;
  /** The route reads a JSON body. */
  body?: boolean;
  /** The route validates a query or path parameters. */
  query?: boolean;
  /** Errors of the route's own, beyond those above and `internal`. */
  errors?: readonly ErrorCode[];
}

/** Every error a route can answer, grouped by status, each status with an example per code. */
export function errorResponses(of: ErrorsOf): Record<number, ResponseConfig> {
  const codes = new Set<ErrorCode>([
    ...(of.body ? BODY_ERRORS : []),
    ...(of.query ? (['invalid_request'] as const) : []),
    ...AUTH_ERRORS[of.auth],
    ...(of.errors ?? []),
    'internal',
  ]);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_CODES[code].status, [...(byStatus.get(ERROR_CODES[code].status) ?? []), code]);
  const responses: Record<number, ResponseConfig> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    const retry = group.some((c) => c === 'rate_limited' || c === 'concurrency_limited' || c === 'origin_error');
    const examples = Object.fromEntries(
      group.map((c) => [c, { value: errorBody(c, ERROR_WHEN[c], 'req_0123456789abcdefghijkl', c === 'invalid_request' ? 'width' : null) }]),
    );
    responses[status] = {
      description: group.map((c) => `\`${c}\`: ${ERROR_WHEN[c]}`).join('. '),
      ...(retry ? { headers: { 'Retry-After': RETRY_AFTER } } : {}),
      content: { 'application/json': { schema: ErrorAnswer, examples } },
    };
  }
  return responses;
}

/** The operation fields that follow from who may call a route. */
export function securityOf(auth: Auth): { security: Record<string, string[]>[] } {
  return { security: SECURITY[auth] };
}

/**
 * Adds to every admin route of the app's document the roles that may call it, from the policy table
 * in src/domain/roles.ts: a `**Roles:**` line in its description and `x-roles`. Done once, over
 * every route the app registered, so no route (whoever adds it) can be documented apart from the
 * policy that enforces it. `{model{.+}}` (Hono's pattern) is `{model}` to the policy.
 */
export function noteAdminRoles(app: OpenAPIHono<AppEnv>): void {
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== 'route' || !def.route.path.startsWith('/admin/')) continue;
    // `def.route` is this app's own copy (mounting a group copies each route), so the group's declaration is left as it is
    const route = def.route as typeof def.route & { 'x-roles'?: string[] };
    const roles = rolesFor(route.method, route.path.replace(/\{(\w+)\{[^}]*\}\}/g, '{$1}'));
    const named = roles.map((r) => (r === 'tenant_admin' ? 'tenant_admin (its own tenant only)' : r));
    const note = `**Roles:** ${named.length > 0 ? named.join(', ') : 'none'}.`;
    route.description = route.description ? `${route.description}\n\n${note}` : note;
    route['x-roles'] = roles;
  }
}

/** A JSON body, required: at most 64 KiB, `application/json` (the route's body middleware checks both). */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { content: { 'application/json': { schema } }, required: true } as const;
}

/** A JSON body the caller may leave out (the route then reads `{}`). */
export function optionalJsonBodyOf<T extends z.ZodType>(schema: T) {
  return { content: { 'application/json': { schema } }, required: false } as const;
}

/** A JSON answer. */
export function jsonAnswer<T extends z.ZodType>(description: string, schema: T) {
  return { description, content: { 'application/json': { schema } } } as const;
}

/** Image bytes, whichever format was asked for. */
export const IMAGE_CONTENT = {
  'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
  'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } },
  'image/webp': { schema: { type: 'string', contentMediaType: 'image/webp' } },
} as const;

/** Bytes of another media type, as a string. */
export function textContent<T extends string>(type: T): Record<T, { schema: { type: 'string' } }> {
  return { [type]: { schema: { type: 'string' } } } as Record<T, { schema: { type: 'string' } }>;
}

const usdHeader = { type: 'string' as const, pattern: '^\\d+(\\.\\d{1,9})?$' };

/** What every generation answer carries (docs/generation.md). */
export const GENERATION_HEADERS = {
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
  'Idempotent-Replayed': {
    description: '`true` on a replayed Idempotency-Key answer (then Imagegate-Cost-USD is 0)',
    schema: { type: 'string', enum: ['true'] },
  },
} satisfies Record<string, { description: string; schema: { type: 'string' | 'integer'; [k: string]: unknown } }>;

/** The errors a generation can answer besides those of its auth and body. */
export const GENERATION_ERRORS = [
  'budget_exceeded',
  'max_cost_exceeded',
  'idempotency_in_progress',
  'idempotency_key_reused',
  'rate_limited',
  'concurrency_limited',
  'origin_error',
  'unavailable',
  'origin_timeout',
] as const satisfies readonly ErrorCode[];

type Request = NonNullable<RouteConfig['request']>;
/** A route's JSON body: `jsonBody(schema)` or `optionalJsonBodyOf(schema)`. */
export type RouteBody = { content: { 'application/json': { schema: z.ZodType } }; required: boolean } | undefined;

/** What a route declares of its own; `declareRoute` adds what follows from it. */
export interface RouteSpec<M, P, Params, Query, Headers, B, A> {
  method: M;
  path: P;
  id: string;
  summary: string;
  description?: string;
  tag: string;
  auth: Auth;
  params?: Params;
  query?: Query;
  headers?: Headers;
  /** `jsonBody(schema)` or `optionalJsonBodyOf(schema)`. */
  body?: B;
  answers: A;
  /** Errors of the route's own, beyond those its auth, body and query bring. */
  errors?: readonly ErrorCode[];
}

/**
 * Declares a route: its tag, its security, the middleware its auth and body need (a tenant key is
 * checked here, an admin token by the app for all of /admin/*), and every error it can answer.
 * The request parts keep their own types, so a handler's `c.req.valid(...)` is typed from them.
 */
export function declareRoute<
  const M extends 'get' | 'post' | 'put' | 'patch' | 'delete',
  const P extends string,
  A extends RouteConfig['responses'],
  Params extends Request['params'] = undefined,
  Query extends Request['query'] = undefined,
  Headers extends Request['headers'] = undefined,
  B extends RouteBody = undefined,
>(spec: RouteSpec<M, P, Params, Query, Headers, B, A>) {
  const middleware: MiddlewareHandler<AppEnv>[] = [];
  if (spec.auth === 'tenant') middleware.push(tenantAuth());
  if (spec.body) middleware.push(spec.body.required ? readJsonBody() : optionalJsonBody());
  return createRoute({
    method: spec.method,
    path: spec.path,
    operationId: spec.id,
    summary: spec.summary,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    tags: [spec.tag],
    ...securityOf(spec.auth),
    middleware,
    // an absent part is `undefined` and its type parameter stays `undefined`: narrowing drops only that
    request: { params: spec.params as Params, query: spec.query as Query, headers: spec.headers as Headers, body: spec.body as B },
    responses: {
      ...spec.answers,
      ...errorResponses({ auth: spec.auth, body: spec.body !== undefined, query: spec.query !== undefined, errors: spec.errors }),
    },
  });
}
