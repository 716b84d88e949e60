import { describe, expect, it } from 'vitest';
import { call, loopback, originCalls, unique } from '../helpers/api';
import { expectError } from '../helpers/errors';
import { expectNothingCharged } from '../helpers/money';
import { createTenantWithKey } from '../helpers/tenants';

/** OpenAI's own fields on POST /v1/images/generations (docs/generation.md): accepted, ignored, named. */

const ALL_IGNORED = { quality: 'hd', style: 'vivid', background: 'opaque', moderation: 'low', output_compression: 80 };

describe("OpenAI's quality, style, background, moderation and output_compression", () => {
  it('are accepted with OpenAI\'s types, ignored, and named in Imagegate-Ignored-Fields', async () => {
    const t = await createTenantWithKey();
    const { scenario, env } = loopback('ops-oai');
    const r = await call('POST', '/v1/images/generations', { key: t.key, env, json: { prompt: `a fox ${scenario}`, size: '256x256', seed: 5, ...ALL_IGNORED } });
    expect(r.status, r.text()).toBe(200);
    expect(r.headers.get('imagegate-ignored-fields')).toBe('quality, style, background, moderation, output_compression');
    const sent = (await originCalls(scenario))[0]?.body as Record<string, unknown>;
    for (const field of Object.keys(ALL_IGNORED)) expect(sent).not.toHaveProperty(field);
  });

  it('only the fields sent are named; null counts as not sent; none sent, no header', async () => {
    const t = await createTenantWithKey();
    const { env } = loopback('ops-oai-some');
    const some = await call('POST', '/v1/images/generations', { key: t.key, env, json: { prompt: unique('p'), size: '256x256', style: 'natural', quality: null } });
    expect(some.status, some.text()).toBe(200);
    expect(some.headers.get('imagegate-ignored-fields')).toBe('style');
    const none = await call('POST', '/v1/images/generations', { key: t.key, env, json: { prompt: unique('p'), size: '256x256' } });
    expect(none.status).toBe(200);
    expect(none.headers.get('imagegate-ignored-fields')).toBeNull();
  });

  it('every value OpenAI documents is accepted', async () => {
    const t = await createTenantWithKey();
    const { env } = loopback('ops-oai-values');
    const values: Record<string, unknown>[] = [
      ...['standard', 'hd', 'low', 'medium', 'high', 'auto'].map((quality) => ({ quality })),
      { style: 'natural' },
      ...['transparent', 'opaque', 'auto'].map((background) => ({ background })),
      { moderation: 'auto' },
      { output_compression: 0 },
      { output_compression: 100 },
    ];
    for (const extra of values) {
      const r = await call('POST', '/v1/images/generations', { key: t.key, env, json: { prompt: 'a heron', size: '256x256', seed: 6, ...extra } });
      expect(r.status, `${JSON.stringify(extra)}: ${r.text()}`).toBe(200);
    }
  });

  it('a wrong value is 400 naming the field; an unknown field is still 400; nothing charged', async () => {
    const t = await createTenantWithKey();
    const { scenario, env } = loopback('ops-oai-bad');
    for (const [extra, param] of [
      [{ quality: 'ultra' }, 'quality'],
      [{ style: 'cartoon' }, 'style'],
      [{ background: 'none' }, 'background'],
      [{ moderation: 'high' }, 'moderation'],
      [{ output_compression: 101 }, 'output_compression'],
      [{ output_compression: -1 }, 'output_compression'],
      [{ output_compression: 50.5 }, 'output_compression'],
      [{ output_compression: '80' }, 'output_compression'],
      [{ qualty: 'hd' }, 'qualty'],
    ] as const) {
      const r = await call('POST', '/v1/images/generations', { key: t.key, env, json: { prompt: 'a heron', size: '256x256', ...extra } });
      expectError(r, 400, 'invalid_request', { param });
    }
    expect(await originCalls(scenario)).toHaveLength(0);
    await expectNothingCharged(t);
  });

  it('do not change the cache key: the same seeded request with other ignored fields is a cache hit', async () => {
    const t = await createTenantWithKey();
    const { scenario, env } = loopback('ops-oai-cache');
    const base = { prompt: `cached ${scenario}`, size: '256x256', seed: 8 };
    const first = await call('POST', '/v1/images/generations', { key: t.key, env, json: base });
    expect(first.json().data[0].cache).toBe('miss');
    const second = await call('POST', '/v1/images/generations', { key: t.key, env, json: { ...base, quality: 'hd', style: 'vivid' } });
    expect(second.status).toBe(200);
    expect(second.json().data[0].cache).toBe('hit');
    expect(await originCalls(scenario)).toHaveLength(1);
  });

  it('are part of the Idempotency-Key request hash: the same key with another quality is 422', async () => {
    const t = await createTenantWithKey();
    const { env } = loopback('ops-oai-idem');
    const headers = { 'idempotency-key': unique('ik') };
    const base = { prompt: unique('idem'), size: '256x256', seed: 9, quality: 'hd' };
    expect((await call('POST', '/v1/images/generations', { key: t.key, env, json: base, headers })).status).toBe(200);
    const replay = await call('POST', '/v1/images/generations', { key: t.key, env, json: base, headers });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('imagegate-ignored-fields')).toBe('quality');
    expectError(await call('POST', '/v1/images/generations', { key: t.key, env, json: { ...base, quality: 'low' }, headers }), 422, 'idempotency_key_reused');
  });
});

describe('the OpenAPI document', () => {
  it("declares OpenAI's ignored fields with their types, and the header that names them", async () => {
    const doc = (await call('GET', '/openapi.json')).json();
    const body = doc.components.schemas.OpenAIImagesRequest;
    // nullish: OpenAI's own fields also take null for "default"
    const quality = (body.properties.quality.anyOf?.[0]?.enum ?? body.properties.quality.enum) as unknown[];
    expect(quality.filter((v) => v !== null)).toEqual(['standard', 'hd', 'low', 'medium', 'high', 'auto']);
    expect(body.properties.output_compression).toMatchObject({ type: ['integer', 'null'], minimum: 0, maximum: 100 });
    const answer = doc.paths['/v1/images/generations'].post.responses['200'];
    expect(answer.headers['Imagegate-Ignored-Fields']).toBeDefined();
  });
});
