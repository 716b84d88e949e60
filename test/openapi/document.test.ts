import { compileErrors, validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors';
import { call } from '../helpers/api';

type Doc = {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any>; securitySchemes: Record<string, any> };
};

async function fetchDocument(): Promise<Doc> {
  const r = await call('GET', '/openapi.json');
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  return r.json<Doc>();
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const doc = await fetchDocument();
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(result.warnings).toEqual([]);
  });

  it('needs no auth, and is the same document on every call', async () => {
    const a = await call('GET', '/openapi.json');
    const b = await call('GET', '/openapi.json', { key: 'igk_nonsense' });
    expect(b.status).toBe(200);
    expect(a.text()).toBe(b.text());
  });

  it('has bodies from the validating zod schemas: strict, with their limits', async () => {
    const { components, paths } = await fetchDocument();
    const openai = paths['/v1/images/generations']?.post;
    expect(openai.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/OpenAIImagesRequest' });
    const body = components.schemas.OpenAIImagesRequest;
    expect(body.additionalProperties).toBe(false);
    expect(body.required).toEqual(['prompt']);
    // nullish: OpenAPI 3.1 may render it as a type list or an anyOf; either way an integer in 1–4
    const n = body.properties.n;
    const integer = n.anyOf ? n.anyOf.find((s: any) => s.type === 'integer') : n;
    expect(integer).toMatchObject({ minimum: 1, maximum: 4 });
    expect([integer.type].flat()).toContain('integer');
    expect(Object.keys(body.properties).sort()).toEqual(
      [
        ...['cfg', 'model', 'n', 'negative_prompt', 'output_format', 'prompt', 'response_format', 'seed', 'size', 'steps', 'user'],
        // OpenAI's own, accepted and ignored (docs/generation.md)
        ...['quality', 'style', 'background', 'moderation', 'output_compression'],
      ].sort(),
    );
    const qubrid = components.schemas.QubridGenerationRequest;
    expect(qubrid.additionalProperties).toBe(false);
    expect(qubrid.properties.seed).toMatchObject({ type: 'integer', minimum: 0, maximum: 4_294_967_295 });
    expect(paths['/v1/estimate']?.post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/QubridGenerationRequest');
    expect(components.schemas.TenantCreate.required).toEqual(['name']);
    expect(components.schemas.ModelPut.additionalProperties).toBe(false);
    const usage = paths['/admin/usage']?.get;
    const groupBy = usage.parameters.find((p: any) => p.name === 'group_by');
    expect(groupBy).toMatchObject({
      in: 'query',
      required: false,
      schema: { anyOf: [{ enum: ['day', 'key', 'model', 'tenant'] }, { pattern: '^tag:[a-z0-9_.-]{1,32}$' }] },
    });
  });

  it('describes answers, including image/png for the Qubrid route, and the generation headers', async () => {
    const { paths } = await fetchDocument();
    const qubrid = paths['/image/generation']?.post.responses['200'];
    expect(Object.keys(qubrid.content)).toEqual(['image/png', 'image/jpeg', 'image/webp', 'application/json']);
    expect(qubrid.content['application/json'].schema.$ref).toBe('#/components/schemas/GenerationJson');
    for (const h of ['Cache-Status', 'Imagegate-Cost-USD', 'Imagegate-Budget-Remaining-USD', 'Imagegate-Seed', 'Imagegate-Origin', 'RateLimit', 'X-Request-Id']) {
      expect(qubrid.headers[h], h).toBeDefined();
    }
    expect(paths['/v1/images/{id}']?.get.responses['200'].content['image/png']).toBeDefined();
    expect(paths['/admin/keys/{id}']?.delete.responses['204'].content).toBeUndefined();
    expect(paths['/admin/usage']?.get.responses['200'].content['text/csv']).toBeDefined();
  });

  it('describes the error envelope and each route’s error codes by status', async () => {
    const { components, paths } = await fetchDocument();
    const envelope = components.schemas.Error;
    expect(envelope.properties.error.required.sort()).toEqual(['code', 'message', 'param', 'request_id', 'type']);
    expect(envelope.properties.error.properties.code.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());

    const gen = paths['/v1/images/generations']?.post.responses;
    expect(Object.keys(gen).sort()).toEqual(['200', '400', '401', '402', '403', '409', '413', '415', '422', '429', '500', '502', '503', '504']);
    expect(Object.keys(gen['402'].content['application/json'].examples)).toEqual(['budget_exceeded', 'max_cost_exceeded']);
    expect(gen['402'].content['application/json'].examples.budget_exceeded.value.error).toMatchObject({ code: 'budget_exceeded', type: 'budget_error' });
    expect(Object.keys(gen['429'].content['application/json'].examples).sort()).toEqual(['concurrency_limited', 'rate_limited']);
    expect(gen['429'].headers['Retry-After']).toBeDefined();

    const admin = paths['/admin/tenants']?.post.responses;
    expect(Object.keys(admin['503'].content['application/json'].examples)).toEqual(['admin_disabled']);
    expect(admin['402']).toBeUndefined();
    // 503: the configuration cannot serve (docs/operations.md)
    expect(Object.keys(paths['/healthz']?.get.responses).sort()).toEqual(['200', '500', '503']);
  });

  it('names the auth schemes: tenant bearer or x-api-key, admin bearer, none', async () => {
    const { components, paths } = await fetchDocument();
    expect(components.securitySchemes).toMatchObject({
      tenantKey: { type: 'http', scheme: 'bearer' },
      tenantApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      adminToken: { type: 'http', scheme: 'bearer' },
    });
    expect(paths['/v1/usage']?.get.security).toEqual([{ tenantKey: [] }, { tenantApiKey: [] }]);
    expect(paths['/admin/models']?.get.security).toEqual([{ adminToken: [] }]);
    expect(paths['/healthz']?.get.security).toEqual([]);
    expect(paths['/docs']?.get.security).toEqual([]);
  });
});
