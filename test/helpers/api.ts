import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { inject } from 'vitest';
import { createApp } from '../../src/app';
import type { AppDeps } from '../../src/env';

export const ADMIN_TOKEN = 'test-admin-token';
export const DEFAULT_MODEL = 'stabilityai/stable-diffusion-3.5-large';
export type TestEnv = typeof env;

/** A unique name per call, for tenants, prompts and origin scenarios. */
let counter = 0;
export function unique(label: string): string {
  counter += 1;
  return `${label}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface CallOptions {
  key?: string;
  admin?: boolean;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  env?: TestEnv;
  app?: ReturnType<typeof createApp>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
  text: () => string;
  json: <T = any>() => T;
}

const defaultApp = createApp();

/** One request through the real app (same middleware and error handling as production), waited to the end. */
export async function call(method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  const headers = new Headers(options.headers);
  if (options.json !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  if (options.admin) headers.set('authorization', `Bearer ${ADMIN_TOKEN}`);
  else if (options.key) headers.set('authorization', `Bearer ${options.key}`);
  const request = new Request(`http://gateway.test${path}`, {
    method,
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
  });
  const ctx = createExecutionContext();
  const response = await (options.app ?? defaultApp).fetch(request, options.env ?? env, ctx);
  const bytes = new Uint8Array(await response.arrayBuffer());
  await waitOnExecutionContext(ctx);
  const text = () => new TextDecoder().decode(bytes);
  return { status: response.status, headers: response.headers, bytes, text, json: () => JSON.parse(text()) };
}

export function appWithClock(now: () => number): ReturnType<typeof createApp> {
  const deps: Partial<AppDeps> = { now };
  return createApp(deps);
}

/** An app on a clock the test moves by hand: `clock.now` is what the app reads as the time. */
export function clockedApp(start: number): { clock: { now: number }; app: ReturnType<typeof createApp> } {
  const clock = { now: start };
  return { clock, app: appWithClock(() => clock.now) };
}

// ------------------------------------------------------------------ the loopback origin

export function originBase(): string {
  return `http://127.0.0.1:${inject('originPort')}`;
}

/** An origin entry pointing at the loopback test origin, answering in `mode` for `scenario`. */
export function testOrigin(scenario: string, mode: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const kind = (extra.kind as string | undefined) ?? 'qubrid';
  const suffix = kind === 'qubrid' ? '/image/generation' : '';
  return { name: `${scenario}-${mode}`.slice(0, 64), kind, url: `${originBase()}/s/${scenario}/${mode}${suffix}`, models: ['*'], timeout_ms: 5_000, ...extra };
}

/** The environment with ORIGINS (and any other bindings) replaced. */
export function envWith(origins: Record<string, unknown>[], extra: Record<string, unknown> = {}): TestEnv {
  return { ...env, ORIGINS: JSON.stringify(origins), ...extra } as TestEnv;
}

/** An environment whose only origin is a fresh loopback scenario answering in `mode`, so origin calls can be counted. */
export function loopback(label: string, mode = 'png', extra: Record<string, unknown> = {}): { scenario: string; env: TestEnv } {
  const scenario = unique(label);
  return { scenario, env: envWith([testOrigin(scenario, mode, extra)]) };
}

export interface OriginCall {
  path: string;
  headers: Record<string, string>;
  body: any;
}

export async function originCalls(scenario: string): Promise<OriginCall[]> {
  const r = await fetch(`${originBase()}/__calls/${scenario}`);
  return (await r.json()) as OriginCall[];
}

/** Makes the scenario answer with these modes, in order, before falling back to its URL's mode. */
export async function scriptOrigin(scenario: string, modes: string[]): Promise<void> {
  await fetch(`${originBase()}/__script/${scenario}`, { method: 'POST', body: JSON.stringify(modes) });
}

export const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > 8 && PNG_MAGIC.every((b, i) => bytes[i] === b);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A valid Qubrid body; `tag` keeps prompts (and so cache keys) apart between tests. */
export function genBody(tag: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { positive_prompt: `test image ${tag}`, width: 256, height: 256, steps: 30, ...extra };
}
