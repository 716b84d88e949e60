import { APIError, AuthenticationError, BadRequestError, PermissionDeniedError } from 'openai';
import type { Image, ImageGenerateParamsNonStreaming, ImagesResponse } from 'openai/resources/images';
import { describe, expect, it } from 'vitest';
import { formatUsd } from '../../src/domain/money';
import { call, envWith, isPng, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { createTenantWithKey } from '../helpers/tenants';
import { sdkClient } from './sdk-client';

/** Our body: OpenAI's fields plus the SD extensions, which the SDK's types do not know. */
type Body = Omit<ImageGenerateParamsNonStreaming, 'size'> & {
  size?: string;
  negative_prompt?: string;
  steps?: number;
  cfg?: number;
  seed?: number;
  [field: string]: unknown;
};
const params = (body: Body) => body as ImageGenerateParamsNonStreaming;

/** The SDK's `Image`, plus what the gateway adds to each. */
type OurImage = Image & { seed: number; cache: string };
const images = (res: ImagesResponse) => (res.data ?? []) as OurImage[];

/** 256×256 at 30 steps with the seed price row: ceil(65,536 × 1,900,000 / 1,000,000) nano-USD. */
const COST_256 = 124_519n;
const usd = formatUsd;

function bytesOf(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

describe('POST /v1/images/generations through the openai SDK', () => {
  it('returns a PNG as b64_json, with the generation headers', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('oa-b64');
    const { client } = sdkClient(key, { env: envWith([testOrigin(scenario, 'png')]) });
    const { data, response } = await client.images
      .generate(params({ prompt: `a lighthouse ${scenario}`, size: '256x256', response_format: 'b64_json', seed: 42, steps: 30, cfg: 5, negative_prompt: 'fog' }))
      .withResponse();
    expect(data.data).toHaveLength(1);
    const image = data.data?.[0];
    expect(image?.url).toBeUndefined();
    expect(isPng(bytesOf(image?.b64_json ?? ''))).toBe(true);
    expect(image).toMatchObject({ revised_prompt: null, seed: 42, cache: 'miss' });
    expect(typeof data.created).toBe('number');
    expect(response.headers.get('imagegate-seed')).toBe('42');
    expect(response.headers.get('imagegate-cost-usd')).toBe(usd(COST_256));
    expect(response.headers.get('cache-status')).toBe('imagegate; fwd=miss; stored');
    expect(response.headers.get('imagegate-origin')).toBe(`${scenario}-png`);
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);

    const calls = await originCalls(scenario);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toMatchObject({ width: 256, height: 256, seed: 42, steps: 30, cfg: 5, negative_prompt: 'fog' });
  });

  it('b64_json is the default response_format', async () => {
    const { key } = await createTenantWithKey();
    const { client } = sdkClient(key);
    const res = await client.images.generate(params({ prompt: unique('default-format'), size: '256x256' }));
    expect(isPng(bytesOf(res.data?.[0]?.b64_json ?? ''))).toBe(true);
    expect(images(res)[0]?.cache).toBe('bypass');
  });

  it('response_format url links to /v1/images/{id}, served to the same tenant and to nobody else', async () => {
    const owner = await createTenantWithKey();
    const sameTenantOtherKey = await call('POST', `/admin/tenants/${owner.tenantId}/keys`, { admin: true, json: { name: unique('k2') } });
    const stranger = await createTenantWithKey();
    const { client } = sdkClient(owner.key);
    const res = await client.images.generate(params({ prompt: unique('url'), size: '256x256', response_format: 'url', seed: 7 }));
    const url = res.data?.[0]?.url ?? '';
    expect(res.data?.[0]?.b64_json).toBeUndefined();
    expect(url).toMatch(/^http:\/\/gateway\.test\/v1\/images\/[\w-]+\?exp=\d+&sig=[\w-]{43}$/);
    const path = new URL(url).pathname;

    const mine = await call('GET', path, { key: owner.key });
    expect(mine.status).toBe(200);
    expect(mine.headers.get('content-type')).toBe('image/png');
    expect(isPng(mine.bytes)).toBe(true);
    const colleague = await call('GET', path, { key: sameTenantOtherKey.json().key });
    expect(colleague.status).toBe(200);

    const theirs = await call('GET', path, { key: stranger.key });
    expectError(theirs, 404, 'not_found');
  });

  it('n=3 with a seed makes 3 images with seeds seed, seed+1, seed+2 and sums their cost', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('oa-n3');
    const { client } = sdkClient(key, { env: envWith([testOrigin(scenario, 'png')]) });
    const { data, response } = await client.images
      .generate(params({ prompt: `three ${scenario}`, size: '256x256', n: 3, seed: 100 }))
      .withResponse();
    expect(images(data).map((d) => d.seed)).toEqual([100, 101, 102]);
    expect(data.data?.every((d) => isPng(bytesOf(d.b64_json ?? '')))).toBe(true);
    expect(new Set(data.data?.map((d) => d.b64_json)).size).toBe(3);
    expect(response.headers.get('imagegate-cost-usd')).toBe(usd(3n * COST_256));
    expect(response.headers.get('imagegate-seed')).toBe('100');
    const calls = await originCalls(scenario);
    expect(calls.map((c) => c.body.seed).sort()).toEqual([100, 101, 102]);

    // each image is cached on its own: asking again for seed 101 alone is a free hit
    const again = await client.images.generate(params({ prompt: `three ${scenario}`, size: '256x256', seed: 101 })).withResponse();
    expect(images(again.data)[0]?.cache).toBe('hit');
    expect(again.response.headers.get('imagegate-cost-usd')).toBe('0');
    expect(await originCalls(scenario)).toHaveLength(3);
  });

  it('shares one cache entry with POST /image/generation for the same image', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('oa-cross');
    const env = envWith([testOrigin(scenario, 'png')]);
    const prompt = `both routes ${scenario}`;
    const qubrid = await call('POST', '/image/generation', { key, env, json: { positive_prompt: prompt, width: 512, height: 256, seed: 11, cfg: 5 } });
    expect(qubrid.status).toBe(200);
    const { client } = sdkClient(key, { env });
    const { data, response } = await client.images.generate(params({ prompt, size: '512x256', seed: 11, cfg: 5, steps: 30, output_format: 'png' })).withResponse();
    expect(images(data)[0]?.cache).toBe('hit');
    expect(response.headers.get('cache-status')).toBe('imagegate; hit');
    expect(bytesOf(images(data)[0]?.b64_json ?? '')).toEqual(qubrid.bytes);
    expect(await originCalls(scenario)).toHaveLength(1);
  });

  it('n=4 without a seed draws one and uses consecutive seeds, none looked up in the cache', async () => {
    const { key } = await createTenantWithKey();
    const { client } = sdkClient(key);
    const { data, response } = await client.images.generate(params({ prompt: unique('drawn'), size: '256x256', n: 4 })).withResponse();
    const seeds = images(data).map((d) => d.seed);
    expect(seeds).toHaveLength(4);
    const first = seeds[0] ?? 0;
    expect(seeds).toEqual([first, first + 1, first + 2, first + 3]);
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first + 3).toBeLessThanOrEqual(4_294_967_294);
    expect(images(data).every((d) => d.cache === 'bypass')).toBe(true);
    expect(response.headers.get('cache-status')).toBe('imagegate; fwd=bypass; stored');
    expect(response.headers.get('imagegate-cost-usd')).toBe(usd(4n * COST_256));
  });

  it('a key with no budget left gets APIError 402 budget_exceeded, not retried, and the origin sees nothing', async () => {
    const { key } = await createTenantWithKey({ key: { budget_usd: '0', budget_period: 'month' } });
    const scenario = unique('oa-402');
    // the SDK's default retries are on: a 402 must not be one it retries
    const { client, sent } = sdkClient(key, { env: envWith([testOrigin(scenario, 'png')]), maxRetries: 2 });
    const error = await client.images.generate(params({ prompt: `broke ${scenario}`, size: '256x256' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    const apiError = error as APIError;
    expect(apiError.status).toBe(402);
    expect(apiError.code).toBe('budget_exceeded');
    expect(apiError.type).toBe('budget_error');
    expect(sent).toHaveLength(1);
    expect(await originCalls(scenario)).toHaveLength(0);
  });

  it('refuses all n when the budget fits only some of them, before any origin call', async () => {
    // 0.0003 USD pays for two 256×256 images (2 × 124,519 nano-USD) but not three
    const { key } = await createTenantWithKey({ key: { budget_usd: '0.0003', budget_period: 'month' } });
    const scenario = unique('oa-partial');
    const { client } = sdkClient(key, { env: envWith([testOrigin(scenario, 'png')]) });
    const error = await client.images.generate(params({ prompt: `partial ${scenario}`, size: '256x256', n: 3, seed: 5 })).catch((e: unknown) => e);
    expect((error as APIError).status).toBe(402);
    expect((error as APIError).code).toBe('budget_exceeded');
    expect(await originCalls(scenario)).toHaveLength(0);
    // the two that fit still can be bought: nothing was kept reserved by the refusal
    const ok = await client.images.generate(params({ prompt: `partial ${scenario}`, size: '256x256', n: 2, seed: 5 }));
    expect(ok.data).toHaveLength(2);
  });

  it('401 AuthenticationError for an unknown key, 403 PermissionDeniedError for a model the tenant may not use', async () => {
    const unknown = sdkClient('igk_' + 'x'.repeat(40)).client;
    const e1 = await unknown.images.generate(params({ prompt: 'x', size: '256x256' })).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(AuthenticationError);
    expect((e1 as APIError).code).toBe('unauthorized');

    const { key } = await createTenantWithKey({ tenant: { allowed_models: ['some/other-model'] } });
    const e2 = await sdkClient(key).client.images.generate(params({ prompt: 'x', size: '256x256' })).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(PermissionDeniedError);
    expect((e2 as APIError).code).toBe('forbidden');
  });
});

describe('POST /v1/images/generations validation', () => {
  const cases: { name: string; body: Body; param: string }[] = [
    { name: 'n = 0', body: { prompt: 'p', n: 0 }, param: 'n' },
    { name: 'n = 5', body: { prompt: 'p', n: 5 }, param: 'n' },
    { name: 'n not an integer', body: { prompt: 'p', n: 1.5 }, param: 'n' },
    { name: 'size not WxH', body: { prompt: 'p', size: 'large' }, param: 'size' },
    { name: 'size not a multiple of 16', body: { prompt: 'p', size: '1000x1000' }, param: 'size' },
    { name: 'size over the model limit', body: { prompt: 'p', size: '4096x1024' }, param: 'size' },
    { name: 'height under the model limit', body: { prompt: 'p', size: '1024x128' }, param: 'size' },
    { name: "a value OpenAI does not document for its own field", body: { prompt: 'p', quality: 'ultra' as 'hd' }, param: 'quality' },
    { name: 'misspelt extension', body: { prompt: 'p', step: 40 }, param: 'step' },
    { name: 'missing prompt', body: { size: '256x256' } as Body, param: 'prompt' },
    { name: 'empty prompt', body: { prompt: '' }, param: 'prompt' },
    { name: 'bad response_format', body: { prompt: 'p', response_format: 'png' as 'url' }, param: 'response_format' },
    { name: 'bad output_format', body: { prompt: 'p', output_format: 'gif' as 'png' }, param: 'output_format' },
    { name: 'steps out of range', body: { prompt: 'p', steps: 101 }, param: 'steps' },
    { name: 'cfg out of range', body: { prompt: 'p', cfg: 21 }, param: 'cfg' },
    { name: 'seed out of range', body: { prompt: 'p', seed: 4_294_967_296 }, param: 'seed' },
    { name: 'seeds of n would pass the largest seed', body: { prompt: 'p', seed: 4_294_967_294, n: 3 }, param: 'seed' },
    { name: 'unknown model', body: { prompt: 'p', model: 'nobody/none' }, param: 'model' },
  ];

  for (const { name, body, param } of cases) {
    it(`400 invalid_request naming '${param}': ${name}`, async () => {
      const { key } = await createTenantWithKey();
      const scenario = unique('oa-400');
      const { client } = sdkClient(key, { env: envWith([testOrigin(scenario, 'png')]) });
      const error = await client.images.generate(params(body)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      const e = error as BadRequestError;
      expect(e.status).toBe(400);
      expect(e.code).toBe('invalid_request');
      expect(e.param).toBe(param);
      expect(e.type).toBe('invalid_request_error');
      expect(await originCalls(scenario)).toHaveLength(0);
    });
  }

  it('accepts null for OpenAI fields (their default) and size "auto"', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('oa-null');
    const { client } = sdkClient(key, { env: envWith([testOrigin(scenario, 'png')]) });
    const res = await client.images.generate(params({ prompt: `nulls ${scenario}`, n: null, size: 'auto', response_format: null, user: 'u-1', seed: 9 }));
    expect(res.data).toHaveLength(1);
    const calls = await originCalls(scenario);
    expect(calls[0]?.body).toMatchObject({ width: 1024, height: 1024, seed: 9 });
  });

  it('counts prompt characters as code points, like the Qubrid route: 10,000 emoji pass, 10,001 do not', async () => {
    const { key } = await createTenantWithKey();
    const { client } = sdkClient(key);
    const ok = await client.images.generate(params({ prompt: '🦊'.repeat(10_000), size: '256x256' }));
    expect(ok.data).toHaveLength(1);
    for (const field of ['prompt', 'negative_prompt']) {
      const body = { prompt: 'p', size: '256x256', [field]: '🦊'.repeat(10_001) };
      const error = await client.images.generate(params(body)).catch((e: unknown) => e);
      expect((error as BadRequestError).status).toBe(400);
      expect((error as BadRequestError).param).toBe(field);
    }
  });

  it('answers 415 and 400 in the envelope for a non-JSON body and malformed JSON', async () => {
    const { key } = await createTenantWithKey();
    const r1 = await call('POST', '/v1/images/generations', { key, body: 'prompt=x', headers: { 'content-type': 'text/plain' } });
    expectError(r1, 415, 'unsupported_media_type');
    const r2 = await call('POST', '/v1/images/generations', { key, body: '{"prompt":', headers: { 'content-type': 'application/json' } });
    expectError(r2, 400, 'invalid_request');
  });
});
