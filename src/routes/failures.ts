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
 * object), worded like the domain's own checks: `'seed' must be an integer from 0 to 4294967295,
 * got -1`. The routes' validation hook (`src/routes/route-group.ts`) answers every failed body,
 * query or path check with it, passing what was checked as `input` so the message can quote the
 * value that failed; zod's own wording (`Too small: expected number to be >=0`) never reaches a client.
 */
export function zodToApiError(error: z.ZodError, prefix = '', input?: unknown): ApiError {
  const issue = error.issues[0];
  if (!issue) return new ApiError('invalid_request', 'invalid request body');
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys[0] ?? '';
    const param = [...issue.path.map(String), field].join('.');
    return new ApiError('invalid_request', `unknown field '${prefix}${param}'`, { param: prefix + param });
  }
  const param = issue.path.map(String).join('.');
  if (!param) {
    const message = issue.code === 'invalid_type' ? `the body must be ${typeNoun(issue.expected)}` : `request body: ${issue.message}`;
    return new ApiError('invalid_request', message);
  }
  const value = valueAt(input, issue.path);
  const name = `'${prefix}${param}'`;
  return new ApiError('invalid_request', issueMessage(issue, name, value), { param: prefix + param });
}

/** One issue as a sentence about the field `name` (already quoted), ending with the value sent. */
function issueMessage(issue: z.core.$ZodIssue, name: string, value: unknown): string {
  const got = value === undefined ? '' : `, got ${shown(value)}`;
  // a message that already names its field (the prompt checks), or a predicate a schema wrote ("must be …")
  if (issue.message.startsWith("'")) return issue.message;
  if (issue.message.startsWith('must ')) return `${name} ${issue.message}${got}`;
  switch (issue.code) {
    case 'too_small':
    case 'too_big':
      return `${name} ${boundPhrase(issue)}${got}`;
    case 'invalid_type':
      return value === undefined ? `${name} is required` : `${name} must be ${typeNoun(issue.expected)}${got}`;
    case 'invalid_value':
      return `${name} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got}`;
    case 'invalid_format':
      // a schema's own description of the format is lower-case ("a date such as 2026-11-26"); zod's is not
      return `${name} must be ${/^[a-z]/.test(issue.message) ? issue.message : `a valid ${issue.format}`}${got}`;
    default:
      return `${name}: ${issue.message}`;
  }
}

/** `must be at least 1`, `must be at most 200 characters`, `must have at most 100 items`. */
function boundPhrase(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const bound = String(small ? issue.minimum : issue.maximum);
  const exclusive = issue.inclusive === false;
  const relation = small ? (exclusive ? 'greater than' : 'at least') : exclusive ? 'less than' : 'at most';
  switch (issue.origin) {
    case 'string':
      return small && bound === '1' && !exclusive ? 'must not be empty' : `must be ${relation} ${bound} characters long`;
    case 'array':
    case 'set':
      return `must have ${relation} ${bound} items`;
    default:
      return `must be ${relation} ${bound}`;
  }
}

const TYPE_NOUNS: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function typeNoun(expected: string): string {
  return TYPE_NOUNS[expected] ?? `of type ${expected}`;
}

/** The value at `path` in what was checked; undefined when it is not there. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The value as JSON, cut short: enough to recognise it, never a whole pasted document. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** The checked value, or the domain's field problem thrown as the 400 naming that field. */
export function checkedOrThrow<T>(checked: Checked<T>): T {
  if (!checked.ok) throw invalid(checked.problem);
  return checked.value;
}
