import { describe, expect, it } from 'vitest';
import { call, DEFAULT_MODEL, envWith, genBody, isPng, originCalls, testOrigin, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';
import { generateThroughOne } from './support';

/** A request with every field that an origin must receive, none at its default. */
const FIELDS = { seed: 3_000_000_001, steps: 42, cfg: 6.5, negative_prompt: 'blurry, text', width: 512, height: 768 };

describe('kind openai', () => {
  it('posts to /v1/images/generations and reads data[0].b64_json', async () => {
    const { r, scenario, calls } = await generateThroughOne('openai', { kind: 'openai' }, FIELDS);
    expect(r.headers.get('imagegate-seed')).toBe('3000000001');
    expect(calls[0]?.path).toBe(`/s/${scenario}/openai/v1/images/generations`);
    expect(calls[0]?.body).toEqual({
      model: DEFAULT_MODEL,
      prompt: `test image ${scenario}`,
      n: 1,
      size: '512x768',
      response_format: 'b64_json',
      seed: 3_000_000_001,
      steps: 42,
      cfg_scale: 6.5,
      negative_prompt: 'blurry, text',
    });
  });

  it('follows data[0].url, and does not double a base URL that ends in /v1', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('openai-url');
    const origin = { ...testOrigin(scenario, 'url', { kind: 'openai' }) };
    origin.url = `${origin.url as string}/v1`;
    const r = await call('POST', '/image/generation', { key, json: genBody(scenario, { seed: 5 }), env: envWith([origin]) });
    expect(r.status, r.text()).toBe(200);
    expect(isPng(r.bytes)).toBe(true);
    const calls = await originCalls(scenario);
    expect(calls.map((c) => c.path)).toEqual([`/s/${scenario}/url/v1/images/generations`]);
    expect(calls[0]?.body).not.toHaveProperty('negative_prompt');
  });
});

describe('kind a1111', () => {
  it('posts to /sdapi/v1/txt2img and reads images[0]', async () => {
    const { scenario, calls } = await generateThroughOne('a1111', { kind: 'a1111' }, FIELDS);
    expect(calls[0]?.path).toBe(`/s/${scenario}/a1111/sdapi/v1/txt2img`);
    expect(calls[0]?.body).toEqual({
      prompt: `test image ${scenario}`,
      negative_prompt: 'blurry, text',
      width: 512,
      height: 768,
      steps: 42,
      cfg_scale: 6.5,
      seed: 3_000_000_001,
      subseed: -1,
      subseed_strength: 0,
      batch_size: 1,
      n_iter: 1,
      send_images: true,
      save_images: false,
    });
  });

  it('sends an explicit seed 0 as 0: A1111 reads only -1 as random', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('a1111-zero');
    const r = await call('POST', '/image/generation', { key, json: genBody(scenario, { seed: 0 }), env: envWith([testOrigin(scenario, 'a1111', { kind: 'a1111' })]) });
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('imagegate-seed')).toBe('0');
    expect((await originCalls(scenario))[0]?.body.seed).toBe(0);
  });

  it('fails over when images[] is empty or not an image', async () => {
    const t = await createTenantWithKey();
    const scenario = unique('a1111-bad');
    const r = await call('POST', '/image/generation', { key: t.key, json: genBody(scenario), env: envWith([testOrigin(scenario, 'json-garbage', { kind: 'a1111' })]) });
    expectError(r, 502, 'origin_error');
    await expectNothingCharged(t);
  });
});

describe('kind cog', () => {
  it('posts {input} to /predictions and reads output as a list of data URLs', async () => {
    const { scenario, calls } = await generateThroughOne('cog', { kind: 'cog' }, { ...FIELDS, output_format: 'jpeg' });
    expect(calls[0]?.path).toBe(`/s/${scenario}/cog/predictions`);
    expect(calls[0]?.body).toEqual({
      input: {
        prompt: `test image ${scenario}`,
        negative_prompt: 'blurry, text',
        width: 512,
        height: 768,
        num_inference_steps: 42,
        guidance_scale: 6.5,
        seed: 3_000_000_001,
        num_outputs: 1,
        output_format: 'jpg',
      },
    });
  });

  it('follows output as a single URL', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('cog-url');
    const r = await call('POST', '/image/generation', { key, json: genBody(scenario, { seed: 9 }), env: envWith([testOrigin(scenario, 'cog-url', { kind: 'cog' })]) });
    expect(r.status, r.text()).toBe(200);
    expect(isPng(r.bytes)).toBe(true);
    expect((await originCalls(scenario))[0]?.body.input.seed).toBe(9);
  });

  it('sends the seed the gateway drew (never 0) and reports it', async () => {
    const { key } = await createTenantWithKey();
    const scenario = unique('cog-drawn');
    const r = await call('POST', '/image/generation', { key, json: genBody(scenario), env: envWith([testOrigin(scenario, 'cog', { kind: 'cog' })]) });
    expect(r.status, r.text()).toBe(200);
    const sent = (await originCalls(scenario))[0]?.body.input.seed as number;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(4_294_967_294);
    expect(r.headers.get('imagegate-seed')).toBe(String(sent));
  });
});

describe('a seed an origin would read as random', () => {
  for (const kind of ['cog', 'openai'] as const) {
    it(`is never sent to kind ${kind}: an explicit seed 0 with only that kind is a 400, nothing called or charged`, async () => {
      const t = await createTenantWithKey();
      const scenario = unique(`zero-${kind}`);
      const r = await call('POST', '/image/generation', { key: t.key, json: genBody(scenario, { seed: 0 }), env: envWith([testOrigin(scenario, kind, { kind })]) });
      expect(expectError(r, 400, 'invalid_request')).toMatch(/seed 0/);
      expect(await originCalls(scenario)).toHaveLength(0);
      await expectNothingCharged(t);
    });
  }

  it('passes such an origin over for the next one that can honour it', async () => {
    const { key } = await createTenantWithKey();
    const cog = unique('zero-cog');
    const a1111 = unique('zero-a1111');
    const second = testOrigin(a1111, 'a1111', { kind: 'a1111' });
    const r = await call('POST', '/image/generation', {
      key,
      json: genBody(cog, { seed: 0 }),
      env: envWith([testOrigin(cog, 'cog', { kind: 'cog' }), second]),
    });
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('imagegate-origin')).toBe(second.name);
    expect(await originCalls(cog)).toHaveLength(0);
    expect((await originCalls(a1111))[0]?.body.seed).toBe(0);
  });
});
