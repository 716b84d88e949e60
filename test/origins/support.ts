import { expect, vi } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors';
import { call, genBody, type CallOptions, type CallResult, type TenantKey } from '../helpers/api';

export { expectNothingCharged } from '../foundation/support';

/** The error envelope of CONTRACT §2 with this status and code; returns its message. */
export function expectError(r: CallResult, status: number, code: ErrorCode): string {
  const text = r.text();
  expect(r.status, text).toBe(status);
  const body = JSON.parse(text) as { error: { code: string; type: string; message: string; request_id: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.type).toBe(ERROR_CODES[code].type);
  expect(body.error.request_id).toBe(r.headers.get('x-request-id'));
  return body.error.message;
}

export interface LoggedAttempt {
  origin: string;
  outcome: string;
  status?: number;
  latencyMs: number;
}

/** POST /image/generation, also returning the request's log line (and anything logged as an error). */
export async function generateLogged(
  t: TenantKey,
  tag: string,
  extra: Record<string, unknown>,
  options: Omit<CallOptions, 'key' | 'json'>,
): Promise<{ r: CallResult; line: Record<string, unknown>; attempts: LoggedAttempt[]; errors: string[] }> {
  const logs: string[] = [];
  const errors: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.map(String).join(' ')));
  try {
    const r = await call('POST', '/image/generation', { ...options, key: t.key, json: genBody(tag, extra) });
    const id = r.headers.get('x-request-id');
    const line = logs.map(tryJson).find((l) => l?.request_id === id && 'status' in l) ?? {};
    return { r, line, attempts: (line.attempts as LoggedAttempt[] | undefined) ?? [], errors };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

function tryJson(text: string): Record<string, unknown> | null {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}
