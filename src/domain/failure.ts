/**
 * Why a request was refused or did not get its image, as data. The domain, storage, origins and
 * services speak only this; the HTTP edge (`src/routes/failures.ts`) turns a failure into a status,
 * headers and the error envelope. The codes are the public error codes of docs/errors.md.
 */
export type FailureCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'budget_exceeded'
  | 'max_cost_exceeded'
  | 'idempotency_in_progress'
  | 'idempotency_key_reused'
  | 'rate_limited'
  | 'concurrency_limited'
  | 'origin_error'
  | 'origin_timeout'
  | 'unavailable';

/** What a client is told about its rate limits: the tighter of the key's and the tenant's, per kind. */
export interface RateLimitReport {
  /** Requests per sliding minute: the quota, what is left, and seconds until one more is admitted. */
  rpm: { limit: number; remaining: number; resetSeconds: number } | null;
  /** Generations in flight to an origin. */
  concurrency: { limit: number; remaining: number } | null;
}

export interface Failure {
  code: FailureCode;
  message: string;
  /** The request field at fault (`invalid_request`). */
  param?: string | null;
  /** Seconds the client should wait before trying again. */
  retryAfterSeconds?: number;
  /** The rate limits as they stood when a rate limit refused the request. */
  rateLimit?: RateLimitReport;
}

/** A request field that does not pass a rule: the validation failure as the domain returns it. */
export interface FieldProblem {
  param: string;
  message: string;
}

/**
 * A failure thrown through a pipeline whose steps run in parallel (`Promise.allSettled`), where a
 * returned value would have to be threaded through every step. Only the edge catches it.
 */
export class Failed extends Error {
  readonly failure: Failure;

  constructor(failure: Failure) {
    super(failure.message);
    this.name = 'Failed';
    this.failure = failure;
  }
}

export function fail(code: FailureCode, message: string, extra: Omit<Failure, 'code' | 'message'> = {}): never {
  throw new Failed({ code, message, ...extra });
}

export function invalid(problem: FieldProblem): Failed {
  return new Failed({ code: 'invalid_request', message: problem.message, param: problem.param });
}
