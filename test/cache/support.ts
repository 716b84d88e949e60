import { env } from 'cloudflare:test';
import { cacheKey, scopedCacheName } from '../../src/domain/cache-key';
import type { SeededRequest } from '../../src/domain/generation-request';
import { call, DEFAULT_MODEL, envWith, type CallOptions, type CallResult, type TestEnv } from '../helpers/api';

/** One Qubrid-route generation. */
export function generateImage(key: string, json: unknown, options: Omit<CallOptions, 'key' | 'json'> = {}): Promise<CallResult> {
  return call('POST', '/image/generation', { key, json, ...options });
}

/** The R2 cache objects under a tenant's private prefix. */
export async function privateEntries(tenantId: string): Promise<R2Object[]> {
  // `include` is honoured by R2 but missing from this version of the types
  const options = { prefix: `cache/t/${tenantId}/`, include: ['customMetadata'] } as R2ListOptions;
  return (await env.IMAGES.list(options)).objects;
}

/** What genBody(tag, { seed }) becomes once defaults are written out: the request a cache key is made from. */
export function seededFromGenBody(tag: string, seed: number): SeededRequest {
  return {
    model: DEFAULT_MODEL,
    prompt: `test image ${tag}`,
    negative_prompt: '',
    width: 256,
    height: 256,
    steps: 30,
    cfg: 7.5,
    seed,
    output_format: 'png',
  };
}

/** The Coalescer for a tenant's private entry of `request`. */
export async function privateFlight(tenantId: string, request: SeededRequest) {
  const name = scopedCacheName({ scope: 'private', tenantId }, await cacheKey(request));
  return env.COALESCER.get(env.COALESCER.idFromName(name));
}

/** An environment whose only origin is `origin`. */
export function only(origin: Record<string, unknown>): TestEnv {
  return envWith([origin]);
}

/** Spent USD of the caller's tenant, from GET /v1/usage. */
export async function tenantSpent(key: string): Promise<string> {
  const r = await call('GET', '/v1/usage', { key });
  if (r.status !== 200) throw new Error(`GET /v1/usage: ${r.status} ${r.text()}`);
  return r.json().tenant.spent_usd as string;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
