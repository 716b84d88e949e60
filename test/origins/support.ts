import { expect, vi } from 'vitest';
import { call, envWith, genBody, isPng, originCalls, testOrigin, unique, type CallOptions, type CallResult, type OriginCall } from '../helpers/api';
import { createTenantWithKey, type TenantKey } from '../helpers/tenants';

/**
 * One generation with `fields` through a single fresh loopback origin, `testOrigin(scenario, mode,
 * settings)`: asserts a whole PNG came back from that origin after exactly one call, and returns
 * the answer, the scenario (its prompt is `test image ${scenario}`) and what the origin was sent.
 */
export async function generateThroughOne(
  mode: string,
  settings: Record<string, unknown>,
  fields: Record<string, unknown>,
): Promise<{ r: CallResult; scenario: string; calls: OriginCall[] }> {
  const { key } = await createTenantWithKey();
  const scenario = unique(`${String(settings.kind ?? 'qubrid')}-${mode}`);
  const origin = testOrigin(scenario, mode, settings);
  const r = await call('POST', '/image/generation', { key, json: genBody(scenario, fields), env: envWith([origin]) });
  expect(r.status, r.text()).toBe(200);
  expect(isPng(r.bytes)).toBe(true);
  expect(r.headers.get('imagegate-origin')).toBe(origin.name);
  const calls = await originCalls(scenario);
  expect(calls).toHaveLength(1);
  return { r, scenario, calls };
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
