import type { z } from 'zod';
import type { Checked } from '../domain/generation-request';
import { invalid, type Failure, type RateLimitReport } from '../domain/failure';
import { ApiError } from '../errors';

/**
 * The one mapper from the domain's failures to HTTP: the status comes from the error table
 * (`src/errors.ts`), `Retry-After` (RFC 9110 §10.2.3) from the failure's wait, and the rate-limit
 * state as the IETF RateLimit fields.
 */
export function apiErrorOf(failure: Failure): ApiError {
  const headers: Record<string, string> = {};
  if (failure.retryAfterSeconds !== undefined) headers['Retry-After'] = String(Math.max(0, Math.ceil(failure.retryAfterSeconds)));
  if (failure.rateLimit) Object.assign(headers, rateLimitHeaders(failure.rateLimit));
  return new ApiError(failure.code, failure.message, { param: failure.param ?? null, headers });
}

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` declares the
 * quota, `RateLimit` its current state. The in-flight limit is a second policy, `"concurrency"`, in
 * the draft's `concurrent-requests` quota unit. Empty when there is no limit to report.
 */
export function rateLimitHeaders(report: RateLimitReport): Record<string, string> {
  const policies: string[] = [];
  const states: string[] = [];
  if (report.rpm) {
    policies.push(`"rpm";q=${report.rpm.limit};w=60`);
    states.push(`"rpm";r=${report.rpm.remaining};t=${report.rpm.resetSeconds}`);
  }
  if (report.concurrency) {
    policies.push(`"concurrency";q=${report.concurrency.limit};qu="concurrent-requests"`);
    states.push(`"concurrency";r=${report.concurrency.remaining}`);
  }
  if (policies.length === 0) return {};
  return { 'RateLimit-Policy': policies.join(', '), RateLimit: states.join(', ') };
}

/**
 * The first zod issue as our 400, with `param` naming the field (the unknown one, for a strict
 * object). The routes' validation hook (`src/app.ts`) answers every failed body, query or path
 * check with it, so a validation failure looks the same on every route.
 */
export function zodToApiError(error: z.ZodError, prefix = ''): ApiError {
  const issue = error.issues[0];
  if (!issue) return new ApiError('invalid_request', 'invalid request body');
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys[0] ?? '';
    const param = [...issue.path.map(String), field].join('.');
    return new ApiError('invalid_request', `unknown field '${prefix}${param}'`, { param: prefix + param });
  }
  const param = issue.path.map(String).join('.');
  if (!param) return new ApiError('invalid_request', `request body: ${issue.message}`);
  return new ApiError('invalid_request', `'${prefix}${param}': ${issue.message}`, { param: prefix + param });
}

/** The checked value, or the domain's field problem thrown as the 400 naming that field. */
export function checkedOrThrow<T>(checked: Checked<T>): T {
  if (!checked.ok) throw invalid(checked.problem);
  return checked.value;
}
