import { expect } from 'vitest';
import type { ErrorCode } from '../../src/errors';
import { call, loopback, originCalls, type CallResult } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNoCharge } from '../helpers/money';
import type { TenantKey } from '../helpers/tenants';

/**
 * Sends a generation that must be refused: asserts the envelope, that the loopback origin saw no
 * call, and that neither the key nor its tenant was charged.
 */
export async function expectRefused(
  t: TenantKey,
  body: unknown,
  status: number,
  code: ErrorCode,
  param: string | null | undefined,
  headers: Record<string, string> = {},
): Promise<CallResult> {
  const { scenario, env: e } = loopback('refused');
  const r = await expectNoCharge(t, () => call('POST', '/image/generation', { key: t.key, json: body, env: e, headers }));
  expectError(r, status, code, { param });
  expect(await originCalls(scenario)).toHaveLength(0);
  return r;
}

/** Sends a generation that must be accepted (through a loopback origin) and returns what the origin was sent. */
export async function expectAccepted(t: TenantKey, body: unknown): Promise<Record<string, unknown>> {
  const { scenario, env: e } = loopback('accepted');
  const r = await call('POST', '/image/generation', { key: t.key, json: body, env: e });
  expect(r.status, r.text()).toBe(200);
  const calls = await originCalls(scenario);
  expect(calls).toHaveLength(1);
  return calls[0]?.body as Record<string, unknown>;
}

/** Width and height from a PNG's IHDR chunk (bytes 16–23). */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(String.fromCharCode(...bytes.subarray(12, 16))).toBe('IHDR');
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
