import { expect } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors';
import type { CallResult } from './api';

export interface ExpectedError {
  /** The field the error names; `null` for none. Left out, any string or null is accepted. */
  param?: string | null;
}

/**
 * Asserts the one error envelope (docs/errors.md): the status, a JSON content type, exactly
 * {code, type, message, param, request_id}, the type that belongs to the code, a non-empty message
 * and the request id the header carries. Returns the message, for tests that check its wording.
 */
export function expectError(r: CallResult, status: number, code: ErrorCode, expected: ExpectedError = {}): string {
  const text = r.text();
  expect(r.status, text).toBe(status);
  expect(r.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  const body = JSON.parse(text) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'request_id', 'type']);
  expect(body.error.code).toBe(code);
  expect(body.error.type).toBe(ERROR_CODES[code].type);
  expect(typeof body.error.message).toBe('string');
  expect((body.error.message as string).length).toBeGreaterThan(0);
  expect(body.error.request_id).toMatch(/^req_[0-9A-Za-z]+$/);
  expect(r.headers.get('x-request-id')).toBe(body.error.request_id);
  if (expected.param !== undefined) expect(body.error.param).toBe(expected.param);
  else expect(body.error.param === null || typeof body.error.param === 'string').toBe(true);
  return body.error.message as string;
}
