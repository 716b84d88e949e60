import { expect, vi } from 'vitest';
import { call, genBody, type CallOptions, type CallResult } from '../helpers/api';
import type { TenantKey } from '../helpers/tenants';

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
    // a request that ends in a 5xx is logged at level error, on console.error
    const line = [...logs, ...errors].map(tryJson).find((l) => l?.request_id === id && 'status' in l) ?? {};
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
