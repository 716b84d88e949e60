import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  ErrorAnswer,
  EstimateAnswer,
  HealthAnswer,
  KeyAnswer,
  ModelAnswer,
  ModelListAnswer,
  NewKeyAnswer,
  RotatedKeyAnswer,
  OpenAIImagesAnswer,
  QubridJsonAnswer,
  TenantAnswer,
  TenantListAnswer,
  TenantWithKeysAnswer,
  UsageAnswer,
  UsageReportAnswer,
} from '../../src/schemas/answers';
import { modelJson } from '../../src/routes/admin-models';
import { keyJson, tenantJson } from '../../src/routes/admin-tenants';
import { call, DEFAULT_MODEL, genBody, unique } from '../helpers/api';
import { createTenantWithKey } from '../helpers/tenants';

/**
 * The document's answer schemas are written next to it, not derived from the handlers; these tests
 * keep them honest: real answers must parse (strictly: an extra field fails), and the functions that
 * build the admin answers must have exactly the schemas' types.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const tenantTypes: Same<ReturnType<typeof tenantJson>, z.output<typeof TenantAnswer>> = true;
const keyTypes: Same<ReturnType<typeof keyJson>, z.output<typeof KeyAnswer>> = true;
const modelTypes: Same<ReturnType<typeof modelJson>, z.output<typeof ModelAnswer>> = true;

function parses(schema: z.ZodType, body: unknown): void {
  const result = schema.safeParse(body);
  expect(result.success, result.success ? '' : JSON.stringify(result.error.issues)).toBe(true);
}

describe('answer schemas match real answers', () => {
  it('type-checks the admin answer builders against the schemas', () => {
    expect([tenantTypes, keyTypes, modelTypes]).toEqual([true, true, true]);
  });

  it('tenants and keys', async () => {
    const created = await call('POST', '/admin/tenants', { admin: true, json: { name: unique('t'), budget_usd: '5', allowed_models: [DEFAULT_MODEL] } });
    parses(TenantAnswer, created.json());
    const id = created.json().id;
    const key = await call('POST', `/admin/tenants/${id}/keys`, { admin: true, json: { name: unique('k'), expires_at: '2030-01-01T00:00:00Z' } });
    parses(NewKeyAnswer, key.json());
    parses(KeyAnswer, (await call('GET', `/admin/keys/${key.json().id}`, { admin: true })).json());
    parses(KeyAnswer, (await call('PATCH', `/admin/keys/${key.json().id}`, { admin: true, json: { disabled: true } })).json());
    parses(RotatedKeyAnswer, (await call('POST', `/admin/keys/${key.json().id}/rotate`, { admin: true })).json());
    parses(TenantWithKeysAnswer, (await call('GET', `/admin/tenants/${id}`, { admin: true })).json());
    parses(TenantAnswer, (await call('PATCH', `/admin/tenants/${id}`, { admin: true, json: { cache_scope: 'shared' } })).json());
    parses(TenantListAnswer, (await call('GET', '/admin/tenants', { admin: true })).json());
  });

  it('models and the usage report', async () => {
    parses(ModelListAnswer, (await call('GET', '/admin/models', { admin: true })).json());
    parses(ModelAnswer, (await call('GET', `/admin/models/${encodeURIComponent(DEFAULT_MODEL)}`, { admin: true })).json());
    const { key } = await createTenantWithKey();
    await call('POST', '/image/generation', { key, json: genBody(unique('report')) });
    parses(UsageReportAnswer, (await call('GET', '/admin/usage?group_by=model', { admin: true })).json());
  });

  it('generation JSON, OpenAI images, estimate, usage, health and errors', async () => {
    const { key } = await createTenantWithKey({ tenant: { budget_usd: '10', budget_period: 'month' } });
    const tag = unique('answers');
    const qubrid = await call('POST', '/image/generation', { key, json: genBody(tag, { seed: 3 }), headers: { accept: 'application/json' } });
    expect(qubrid.status).toBe(200);
    parses(QubridJsonAnswer, qubrid.json());
    const openai = await call('POST', '/v1/images/generations', { key, json: { prompt: tag, size: '256x256', n: 2, response_format: 'url' } });
    parses(OpenAIImagesAnswer, openai.json());
    parses(OpenAIImagesAnswer, (await call('POST', '/v1/images/generations', { key, json: { prompt: tag, size: '256x256' } })).json());
    parses(EstimateAnswer, (await call('POST', '/v1/estimate', { key, json: genBody(tag) })).json());
    parses(UsageAnswer, (await call('GET', '/v1/usage', { key })).json());
    parses(HealthAnswer, (await call('GET', '/healthz')).json());
    parses(ErrorAnswer, (await call('POST', '/v1/images/generations', { key, json: { prompt: tag, n: 9 } })).json());
    parses(ErrorAnswer, (await call('GET', '/nowhere')).json());
  });
});
