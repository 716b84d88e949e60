import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The one list of error codes (docs/errors.md), each with its status and OpenAI-style `type`. */
export const ERROR_CODES = {
  invalid_request: { status: 400, type: 'invalid_request_error' },
  unauthorized: { status: 401, type: 'authentication_error' },
  budget_exceeded: { status: 402, type: 'budget_error' },
  max_cost_exceeded: { status: 402, type: 'budget_error' },
  forbidden: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'not_found_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  idempotency_in_progress: { status: 409, type: 'conflict_error' },
  payload_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  idempotency_key_reused: { status: 422, type: 'invalid_request_error' },
  rate_limited: { status: 429, type: 'rate_limit_error' },
  concurrency_limited: { status: 429, type: 'rate_limit_error' },
  internal: { status: 500, type: 'api_error' },
  origin_error: { status: 502, type: 'origin_error' },
  admin_disabled: { status: 503, type: 'service_unavailable_error' },
  unavailable: { status: 503, type: 'service_unavailable_error' },
  origin_timeout: { status: 504, type: 'origin_error' },
} as const satisfies Record<string, { status: ContentfulStatusCode; type: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  error: { code: ErrorCode; type: string; message: string; param: string | null; request_id: string };
}

export interface ApiErrorOptions {
  param?: string | null;
  /** Extra response headers, e.g. Retry-After on a 429. */
  headers?: Record<string, string>;
}

/** The only error a handler throws on purpose; `onError` turns it into the envelope. */
export class ApiError extends HTTPException {
  readonly code: ErrorCode;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(ERROR_CODES[code].status, { message });
    this.name = 'ApiError';
    this.code = code;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }
}

export function errorBody(code: ErrorCode, message: string, requestId: string, param: string | null = null): ErrorBody {
  return { error: { code, type: ERROR_CODES[code].type, message, param, request_id: requestId } };
}

/** The envelope as a Response, for places outside Hono's handlers (onError, notFound). */
export function errorResponse(err: ApiError, requestId: string): Response {
  const headers = new Headers(err.headers);
  headers.set('content-type', 'application/json; charset=utf-8');
  headers.set('x-request-id', requestId);
  return new Response(JSON.stringify(errorBody(err.code, err.message, requestId, err.param)), {
    status: ERROR_CODES[err.code].status,
    headers,
  });
}
