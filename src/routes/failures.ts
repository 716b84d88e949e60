import type { Failure, RateLimitReport } from '../domain/failure';
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
