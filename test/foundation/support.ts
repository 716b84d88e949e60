import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors';
import { call, envWith, originCalls, testOrigin, unique, type CallResult, type TenantKey, type TestEnv } from '../helpers/api';

/**
 * Asserts the one error envelope of CONTRACT §2: exactly {code, type, message, param, request_id},
 * the status and type that belong to the code, and the request id that the header carries.
 */
export function expectError(r: CallResult, status: number, code: ErrorCode, param: string | null | undefined = undefined): void {
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
  if (param !== undefined) expect(body.error.param).toBe(param);
  else expect(body.error.param === null || typeof body.error.param === 'string').toBe(true);
}

/** What the key and its tenant have spent and reserved, read straight from D1. */
export async function charges(t: TenantKey): Promise<{ keySpent: number; keyReserved: number; tenantSpent: number; tenantReserved: number }> {
  const k = await env.DB.prepare('SELECT spent_nano, reserved_nano FROM api_keys WHERE id = ?').bind(t.keyId).first<{ spent_nano: number; reserved_nano: number }>();
  const tn = await env.DB.prepare('SELECT spent_nano, reserved_nano FROM tenants WHERE id = ?').bind(t.tenantId).first<{ spent_nano: number; reserved_nano: number }>();
  if (!k || !tn) throw new Error(`no key ${t.keyId} or tenant ${t.tenantId} in D1`);
  return { keySpent: k.spent_nano, keyReserved: k.reserved_nano, tenantSpent: tn.spent_nano, tenantReserved: tn.reserved_nano };
}

/** Runs `action` and asserts that it charged neither the key nor its tenant (nothing spent, nothing left reserved). */
export async function expectNoCharge<T>(t: TenantKey, action: () => Promise<T>): Promise<T> {
  const before = await charges(t);
  const result = await action();
  expect(await charges(t)).toEqual(before);
  expect(before.keyReserved).toBe(0);
  expect(before.tenantReserved).toBe(0);
  return result;
}

/** For a tenant that only ever had requests refused: nothing spent, nothing reserved, ever. */
export async function expectNothingCharged(t: TenantKey): Promise<void> {
  expect(await charges(t)).toEqual({ keySpent: 0, keyReserved: 0, tenantSpent: 0, tenantReserved: 0 });
}

/** An environment whose only origin is a fresh loopback scenario answering PNG, so origin calls can be counted. */
export function loopback(label: string): { scenario: string; env: TestEnv } {
  const scenario = unique(label);
  return { scenario, env: envWith([testOrigin(scenario, 'png')]) };
}

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
  expectError(r, status, code, param);
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
